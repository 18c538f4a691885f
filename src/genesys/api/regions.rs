//! Where Genesys Cloud is: the region table of Genesys's SDKs (`regions.json` beside this file,
//! the repository's one copy; its public source is cited in genesys-api-notes §0.5), and
//! explicit URLs for a region the table lacks (or the simulator).

use serde::Deserialize;

/// The region table: SDK name, domain, API base and login base of each region.
const REGIONS: &str = include_str!("regions.json");

/// Where Genesys is: the API base and the login (OAuth) base, without trailing slashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub api_base: String,
    pub login_base: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    sdk_name: String,
    domain: String,
    api_base: String,
    login_base: String,
}

#[derive(Deserialize)]
struct Table {
    regions: Vec<Region>,
}

impl Endpoints {
    /// A region by SDK name (`us_east_1`, also `us-east-1`), domain (`mypurecloud.de`) or API host.
    pub fn for_region(name: &str) -> Result<Endpoints, String> {
        let table: Table = serde_json::from_str(REGIONS).map_err(|e| format!("region table: {e}"))?;
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        let wanted_host = wanted.trim_start_matches("https://").trim_start_matches("api.").to_string();
        table
            .regions
            .into_iter()
            .find(|r| r.sdk_name == wanted || r.domain == wanted_host)
            .map(|r| Endpoints { api_base: r.api_base, login_base: r.login_base })
            .ok_or_else(|| {
                format!(
                    "unknown Genesys region '{name}'; use an SDK name such as us_east_1 or eu_central_1, or a domain \
                     such as mypurecloud.de"
                )
            })
    }

    /// The SDK names of the table's regions (`us_east_1`, ...), for messages that list them.
    pub fn region_names() -> Vec<String> {
        serde_json::from_str::<Table>(REGIONS)
            .map(|t| t.regions.into_iter().map(|r| r.sdk_name).collect())
            .unwrap_or_default()
    }

    /// Explicit URLs (the simulator, or a region not in the table).
    pub fn explicit(api_url: &str, login_url: &str) -> Endpoints {
        Endpoints {
            api_base: api_url.trim_end_matches('/').to_string(),
            login_base: login_url.trim_end_matches('/').to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_resolve_by_sdk_name_domain_and_host() {
        let de = Endpoints::for_region("eu_central_1").unwrap();
        assert_eq!(de.api_base, "https://api.mypurecloud.de");
        assert_eq!(de.login_base, "https://login.mypurecloud.de");
        assert_eq!(Endpoints::for_region("eu-central-1").unwrap(), de);
        assert_eq!(Endpoints::for_region("mypurecloud.de").unwrap(), de);
        assert_eq!(Endpoints::for_region("api.mypurecloud.de").unwrap(), de);
        assert!(Endpoints::for_region("mars_north_1").unwrap_err().contains("us_east_1"));
        let names = Endpoints::region_names();
        assert!(names.iter().any(|n| n == "eu_central_1") && names.len() >= 15, "{names:?}");
    }

    #[test]
    fn the_embedded_table_is_whole_and_consistent() {
        let table: Table = serde_json::from_str(REGIONS).unwrap();
        assert!(table.regions.len() >= 15, "{} regions", table.regions.len());
        for r in &table.regions {
            assert_eq!(r.api_base, format!("https://api.{}", r.domain), "{}", r.sdk_name);
            assert_eq!(r.login_base, format!("https://login.{}", r.domain), "{}", r.sdk_name);
        }
        assert!(table.regions.iter().any(|r| r.sdk_name == "us_east_1" && r.domain == "mypurecloud.com"));
    }
}
