//! Genesys's phone types: the SCIM `phoneNumbers.type` values and Platform `Contact.type`
//! values it keeps, and which SCIM types all land in the one *Other Phone* field
//! (genesys-api-notes §1.3–1.5, §2.1–2.2).

/// The phone types Genesys keeps, in the order they are sent. `EightByEight` is the Other Phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhoneKind {
    Work,
    Work2,
    Work3,
    Work4,
    Home,
    Mobile,
    /// The 8x8 number: SCIM type `eightbyeight`, Platform contact type `OTHER`.
    EightByEight,
}

impl PhoneKind {
    /// Every kind, in the order they are sent.
    pub const ALL: [PhoneKind; 7] = [
        PhoneKind::Work,
        PhoneKind::Work2,
        PhoneKind::Work3,
        PhoneKind::Work4,
        PhoneKind::Home,
        PhoneKind::Mobile,
        PhoneKind::EightByEight,
    ];

    /// A SCIM type that passes through unchanged (not the Other Phone types, see
    /// [`is_other_phone_type`]).
    pub fn from_scim_type(t: &str) -> Option<PhoneKind> {
        Some(match t.to_ascii_lowercase().as_str() {
            "work" => PhoneKind::Work,
            "work2" => PhoneKind::Work2,
            "work3" => PhoneKind::Work3,
            "work4" => PhoneKind::Work4,
            "home" => PhoneKind::Home,
            "mobile" => PhoneKind::Mobile,
            _ => return None,
        })
    }

    /// `ScimPhoneNumber.type` (genesys-api-notes §1.3, §1.5).
    pub fn scim_type(self) -> &'static str {
        match self {
            PhoneKind::Work => "work",
            PhoneKind::Work2 => "work2",
            PhoneKind::Work3 => "work3",
            PhoneKind::Work4 => "work4",
            PhoneKind::Home => "home",
            PhoneKind::Mobile => "mobile",
            PhoneKind::EightByEight => EIGHT_BY_EIGHT,
        }
    }

    /// `Contact.type` of the Platform API (genesys-api-notes §2.1, §1.4).
    pub fn platform_type(self) -> &'static str {
        match self {
            PhoneKind::Work => "WORK",
            PhoneKind::Work2 => "WORK2",
            PhoneKind::Work3 => "WORK3",
            PhoneKind::Work4 => "WORK4",
            PhoneKind::Home => "HOME",
            PhoneKind::Mobile => "MOBILE",
            PhoneKind::EightByEight => "OTHER",
        }
    }
}

/// The SCIM type of the 8x8 number.
pub const EIGHT_BY_EIGHT: &str = "eightbyeight";

/// SCIM phone types that Genesys stores in the single Other Phone field (genesys-api-notes
/// §1.4–1.5), in the order a reader prefers them when several are present: the 8x8 type first,
/// then `other`, then the UC types; `eighbyeight` is the swagger's typo of 2022–2025, accepted
/// on input. Only the 8x8 number is sent there.
pub const OTHER_PHONE_TYPES: [&str; 6] =
    [EIGHT_BY_EIGHT, "other", "eighbyeight", "microsoftteams", "zoomphone", "ringcentral"];

/// Whether Genesys files a SCIM phone of this type (any case) as the Other Phone.
pub fn is_other_phone_type(t: &str) -> bool {
    OTHER_PHONE_TYPES.iter().any(|o| o.eq_ignore_ascii_case(t))
}

/// Platform contact types the bridge writes: replaced by the user's SCIM phones on every write.
pub const MANAGED_PLATFORM_TYPES: [&str; 7] = ["WORK", "WORK2", "WORK3", "WORK4", "HOME", "MOBILE", "OTHER"];

/// `Contact.mediaType` of a phone in the Platform API.
pub const PLATFORM_PHONE_MEDIA: &str = "PHONE";

/// `Contact.mediaType` of an e-mail address in the Platform API.
pub const PLATFORM_EMAIL_MEDIA: &str = "EMAIL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_phone_type_is_recognised_in_any_case_and_the_rest_are_not() {
        for t in OTHER_PHONE_TYPES {
            assert!(is_other_phone_type(t) && is_other_phone_type(&t.to_uppercase()), "{t}");
            assert_eq!(PhoneKind::from_scim_type(t), None, "{t} is not a pass-through type");
        }
        for t in ["work", "home", "mobile", "fax", "pager"] {
            assert!(!is_other_phone_type(t), "{t}");
        }
        assert_eq!(PhoneKind::EightByEight.platform_type(), "OTHER");
        assert!(MANAGED_PLATFORM_TYPES.contains(&PhoneKind::EightByEight.platform_type()));
    }
}
