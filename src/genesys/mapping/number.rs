//! Phone numbers: a small table of national numbering plans ([`Country`]) and the
//! normalisation of what identity providers send to E.164 or an RFC 3966 tel URI
//! ([`normalise_number`]). Pure.

use std::borrow::Cow;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::*;

/// The numbering plan of a country, as far as normalising a national number needs it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) iso: &'static str,
    pub(super) calling_code: &'static str,
    /// Dialled before a national number and not part of the E.164 number (`0` in the UK).
    pub(super) trunk_prefix: Option<&'static str>,
    /// Dialled before an international number (`00`, `011` in North America).
    pub(super) international_prefix: &'static str,
    /// North American Numbering Plan: ten national digits, area code not starting with 0 or 1.
    pub(super) nanp: bool,
}

impl Plan {
    const fn nanp(iso: &'static str) -> Plan {
        Plan { iso, calling_code: "1", trunk_prefix: Some("1"), international_prefix: "011", nanp: true }
    }

    const fn new(iso: &'static str, calling_code: &'static str, trunk_prefix: Option<&'static str>) -> Plan {
        Plan { iso, calling_code, trunk_prefix, international_prefix: "00", nanp: false }
    }

    const fn with_international_prefix(mut self, prefix: &'static str) -> Plan {
        self.international_prefix = prefix;
        self
    }
}

/// The countries whose national numbers can be normalised. A small table on purpose (no
/// libphonenumber here): trunk and international prefixes from the ITU national numbering plans.
/// Italy keeps its leading 0 (no trunk prefix); Norway, Denmark, Spain, Portugal, Poland, the Czech
/// Republic, Luxembourg, Singapore, Hong Kong and Mexico have none.
pub(super) static PLANS: [Plan; 32] = [
    Plan::nanp("US"),
    Plan::nanp("CA"),
    Plan::new("GB", "44", Some("0")),
    Plan::new("IE", "353", Some("0")),
    Plan::new("DE", "49", Some("0")),
    Plan::new("FR", "33", Some("0")),
    Plan::new("NL", "31", Some("0")),
    Plan::new("BE", "32", Some("0")),
    Plan::new("LU", "352", None),
    Plan::new("CH", "41", Some("0")),
    Plan::new("AT", "43", Some("0")),
    Plan::new("SE", "46", Some("0")),
    Plan::new("NO", "47", None),
    Plan::new("DK", "45", None),
    Plan::new("FI", "358", Some("0")),
    Plan::new("ES", "34", None),
    Plan::new("PT", "351", None),
    Plan::new("IT", "39", None),
    Plan::new("PL", "48", None),
    Plan::new("CZ", "420", None),
    Plan::new("AU", "61", Some("0")).with_international_prefix("0011"),
    Plan::new("NZ", "64", Some("0")),
    Plan::new("JP", "81", Some("0")).with_international_prefix("010"),
    Plan::new("IN", "91", Some("0")),
    Plan::new("SG", "65", None),
    Plan::new("HK", "852", None),
    Plan::new("ZA", "27", Some("0")),
    Plan::new("IL", "972", Some("0")),
    Plan::new("AE", "971", Some("0")),
    Plan::new("MX", "52", None),
    Plan::new("GR", "30", None),
    Plan::new("IS", "354", None),
];

/// The country whose national numbers are completed to E.164 (`"US"`: `(415) 555-0123` →
/// `+14155550123`). Parsed from an ISO 3166 alpha-2 code at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country(&'static Plan);

impl Country {
    /// The ISO 3166 alpha-2 code, upper case.
    pub fn iso(self) -> &'static str {
        self.0.iso
    }

    /// The E.164 country calling code, without `+`.
    pub fn calling_code(self) -> &'static str {
        self.0.calling_code
    }
}

impl FromStr for Country {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let code = s.trim();
        PLANS.iter().find(|p| p.iso.eq_ignore_ascii_case(code)).map(Country).ok_or_else(|| {
            let known: Vec<&str> = PLANS.iter().map(|p| p.iso).collect();
            ConfigError(format!(
                "unsupported default country `{code}`: use one of {} (ISO 3166 alpha-2), or leave it unset and have \
                 the identity provider send international numbers (+ and country code)",
                known.join(", ")
            ))
        })
    }
}

/// Longest input looked at; phone numbers with extensions are far shorter.
pub(super) const MAX_NUMBER_CHARS: usize = 64;
/// E.164: at most 15 digits, country code included.
pub(super) const E164_MAX_DIGITS: usize = 15;
/// The shortest numbers in use (Niue, Saint Helena: 3-digit country code + 4 digits).
pub(super) const E164_MIN_DIGITS: usize = 7;
pub(super) const MAX_EXTENSION_DIGITS: usize = 10;

/// Normalise a phone number as an IdP stores it to what Genesys's `ScimPhoneNumber.value` takes:
/// "E.164 or tel URI format" (genesys-api-notes §1.3). `+1 (415) 555-0123` → `+14155550123`; with an
/// extension (`x42`, `ext. 42`, `extension 42`, `#42`, `;ext=42`, or a tel URI's `ext`
/// parameter) → `tel:+14155550123;ext=42`.
///
/// The tel URI is RFC 3966's (`;ext=` with no space). Genesys's own description shows
/// `tel:+nnnnnnnn; ext=xxxxx` with a space, which is not a valid tel URI; parsers built on
/// RFC 3966 (libphonenumber among them) read the form without the space [unverified which one
/// Genesys prefers; both are accepted as input here].
///
/// Accepted: a leading `+` (or the international prefix `00`, `011` in North America, `0011` in
/// Australia, `010` in Japan when that is the default country; `00` without a default country);
/// visual separators (spaces, `-`, `.`, `(`, `)`, `/`); a tel URI (`tel:+1-415-555-0123`, or a
/// local number with `phone-context=+1`); `+44 (0)20 …` (the bracketed trunk 0 is dropped).
/// A national number (no `+`) is completed with `default_country` (its trunk prefix `0`/`1`
/// dropped), and is an error without one. Rejected with a [`NumberError`] naming the problem
/// (never the number): letters, other characters, a misplaced `+`, fewer than 7 or more than 15
/// digits, a country code starting with 0, a +1 number without 10 national digits, an extension
/// that is not 1–10 digits.
pub fn normalise_number(raw: &str, default_country: Option<Country>) -> Result<String, NumberError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(NumberError::Empty);
    }
    if raw.chars().count() > MAX_NUMBER_CHARS {
        return Err(NumberError::TooManyCharacters { max: MAX_NUMBER_CHARS });
    }
    let parts = match strip_prefix_ci(raw, "tel:") {
        Some(uri) => split_tel_uri(uri)?,
        None => split_extension(raw)?,
    };
    if is_extension_only(&parts) {
        return Err(NumberError::ExtensionOnly);
    }
    let (global, digits) = digits_of(&without_bracketed_trunk_zero(parts.number))?;
    let international = if global {
        digits
    } else if let Some(context) = parts.context {
        format!("{context}{digits}")
    } else {
        match default_country {
            Some(country) => match digits.strip_prefix(country.0.international_prefix) {
                Some(rest) => rest.to_string(),
                None => national_to_international(country, &digits)?,
            },
            None => match digits.strip_prefix("00") {
                Some(rest) => rest.to_string(),
                None => return Err(NumberError::NationalWithoutCountry),
            },
        }
    };
    check_international(&international)?;
    Ok(match parts.extension {
        Some(ext) => format!("tel:+{international};ext={ext}"),
        None => format!("+{international}"),
    })
}

/// An extension with no number before it (`x123`, `ext. 123`, `;ext=123`), or a short run of
/// digits with no `+` and no extension (`4123`): fewer digits than any dialable number
/// ([`E164_MIN_DIGITS`]), which is what directories hold when they store only the 8x8 extension.
fn is_extension_only(parts: &NumberParts<'_>) -> bool {
    let digits = parts.number.chars().filter(char::is_ascii_digit).count();
    let separators_only = parts.number.chars().all(|c| c.is_ascii_digit() || is_visual_separator(c));
    match parts.extension {
        Some(_) => digits == 0 && parts.number.chars().all(is_visual_separator),
        None => parts.context.is_none() && separators_only && (1..E164_MIN_DIGITS).contains(&digits),
    }
}

/// [`normalise_number`] for the API mode the number is sent with: the Platform API has no
/// documented form for a number with an extension (genesys-api-notes §14), so there a number
/// with one is refused rather than sent in a guessed form.
pub fn normalise_number_for(raw: &str, default_country: Option<Country>, api: ApiMode) -> Result<String, NumberError> {
    let number = normalise_number(raw, default_country)?;
    if api == ApiMode::Platform && number.starts_with("tel:") {
        return Err(NumberError::ExtensionInPlatformMode);
    }
    Ok(number)
}

/// A number split into its dialable part, its extension and (tel URIs) a `+` phone context.
pub(super) struct NumberParts<'a> {
    number: &'a str,
    extension: Option<String>,
    context: Option<String>,
}

/// `tel:` URI (RFC 3966): `global-number` or `local-number;phone-context=…`, then parameters;
/// `ext` is the extension, a `+digits` phone context completes a local number, others are
/// ignored. Spaces around `;` are tolerated (Genesys documents `tel:+nnnnnnnn; ext=xxxxx`).
pub(super) fn split_tel_uri(uri: &str) -> Result<NumberParts<'_>, NumberError> {
    let mut pieces = uri.split(';');
    let number = pieces.next().unwrap_or("").trim();
    let mut extension = None;
    let mut context = None;
    for param in pieces {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("ext") {
            let digits: String = value.chars().filter(|c| !is_visual_separator(*c)).collect();
            extension = Some(check_extension(&digits)?);
        } else if name.eq_ignore_ascii_case("phone-context") && value.starts_with('+') {
            let (_, digits) = digits_of(value)?;
            context = Some(digits);
        }
    }
    Ok(NumberParts { number, extension, context })
}

/// Free-form numbers with a trailing extension: `x42`, `ext42`, `ext. 42`, `ext: 42`,
/// `extension 42`, `#42`, `;ext=42` (the forms libphonenumber also reads), any case.
pub(super) fn split_extension(raw: &str) -> Result<NumberParts<'_>, NumberError> {
    let lower = raw.to_ascii_lowercase();
    for marker in ["extension", "ext", "x", "#"] {
        let Some(at) = lower.rfind(marker) else { continue };
        let rest = lower[at + marker.len()..].trim_start_matches(['.', ':', '=', ' ', '\t']).trim_end();
        if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
            let number = raw[..at].trim_end_matches([' ', '\t', ',', ';']);
            return Ok(NumberParts { number, extension: Some(check_extension(rest)?), context: None });
        }
    }
    Ok(NumberParts { number: raw, extension: None, context: None })
}

/// `+44 (0)20 7946 0958`: directories in the UK and much of Europe write the trunk prefix in
/// brackets after the country code; it is not dialled from abroad and not part of E.164. Kept,
/// it would silently give a wrong number, so a `(0)` in an international number is dropped.
pub(super) fn without_bracketed_trunk_zero(number: &str) -> Cow<'_, str> {
    if number.trim_start().starts_with('+') {
        let compact: String = number.split_whitespace().collect::<Vec<_>>().join(" ");
        for form in ["(0)", "( 0 )", "(0 )", "( 0)"] {
            if compact.contains(form) {
                return Cow::Owned(compact.replacen(form, " ", 1));
            }
        }
    }
    Cow::Borrowed(number)
}

pub(super) fn check_extension(digits: &str) -> Result<String, NumberError> {
    let ok = (1..=MAX_EXTENSION_DIGITS).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    if ok { Ok(digits.to_string()) } else { Err(NumberError::BadExtension) }
}

/// Whether the number starts with `+`, and its digits. Visual separators are skipped; `+` may
/// only come first.
pub(super) fn digits_of(number: &str) -> Result<(bool, String), NumberError> {
    let mut global = false;
    let mut digits = String::with_capacity(number.len());
    for c in number.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if !global && digits.is_empty() => global = true,
            '+' => return Err(NumberError::MisplacedPlus),
            c if is_visual_separator(c) => {}
            c if c.is_alphabetic() => return Err(NumberError::Letters),
            c => return Err(NumberError::UnexpectedCharacter(c)),
        }
    }
    if digits.is_empty() {
        return Err(NumberError::NoDigits);
    }
    Ok((global, digits))
}

pub(super) fn is_visual_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// A national number of `country` as international digits (country code first).
pub(super) fn national_to_international(country: Country, digits: &str) -> Result<String, NumberError> {
    let plan = country.0;
    if plan.nanp {
        let national = match digits.strip_prefix('1') {
            Some(rest) if digits.len() == 11 => rest,
            _ => digits,
        };
        if national.len() != 10 {
            return Err(NumberError::NationalLength { country: plan.iso, digits: national.len() });
        }
        return Ok(format!("1{national}"));
    }
    let national = plan.trunk_prefix.and_then(|p| digits.strip_prefix(p)).unwrap_or(digits);
    Ok(format!("{}{national}", plan.calling_code))
}

/// E.164 rules that hold for every number: no country code starts with 0, 7–15 digits, and a
/// +1 number has 10 national digits with an area code not starting with 0 or 1.
pub(super) fn check_international(digits: &str) -> Result<(), NumberError> {
    if digits.starts_with('0') {
        return Err(NumberError::CountryCodeZero);
    }
    if digits.len() > E164_MAX_DIGITS {
        return Err(NumberError::TooLong { digits: digits.len() });
    }
    if digits.len() < E164_MIN_DIGITS {
        return Err(NumberError::TooShort { digits: digits.len() });
    }
    if let Some(national) = digits.strip_prefix('1') {
        if national.len() != 10 {
            return Err(NumberError::NanpLength { digits: national.len() });
        }
        if national.starts_with(['0', '1']) {
            return Err(NumberError::NanpAreaCode);
        }
    }
    Ok(())
}

/// The 8x8 number forms the bridge takes, per API mode, for the error an identity provider sees.
pub fn accepted_number_forms(api: ApiMode) -> &'static str {
    match api {
        ApiMode::Scim => {
            "Accepted: an international number (`+1 415 555 0123`; spaces, dashes and brackets are fine), \
             optionally with an extension (`+1 415 555 0123;ext=123`, `+1 415 555 0123 x123`, \
             `tel:+1-415-555-0123;ext=123`), or a national number when a default country is configured; not an \
             extension alone"
        }
        ApiMode::Platform => {
            "Accepted in Platform API mode: an international number without an extension (`+1 415 555 0123`; \
             spaces, dashes and brackets are fine), or a national number when a default country is configured"
        }
    }
}

/// Check, before a user is stored, the 8x8 number it carries when that number is new or changed
/// (`old` is the user as stored before, `None` on create): a value the bridge could not send to
/// Genesys is the identity provider's to fix, so it is refused now with an `invalidValue` error
/// naming the accepted forms, instead of being accepted and parked later. A number that did not
/// change is not checked again, so a user stored before a configuration change can still be
/// deactivated or renamed.
pub fn check_number_change(
    new: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
    cfg: &MappingConfig,
) -> Result<(), scim::ScimError> {
    let source = &cfg.number_source;
    let text_at = |doc: &Map<String, Value>| source.select(doc).map(|(v, _)| number_text(v, source));
    let refuse = |problem: String| {
        scim::ScimError::invalid_value(format!(
            "The 8x8 number at `{}` {problem}. {}.",
            source.as_str(),
            accepted_number_forms(cfg.api)
        ))
    };
    let raw = match text_at(new) {
        None | Some(Ok(None)) => return Ok(()),
        Some(Ok(Some(raw))) => raw,
        Some(Err(_)) => return Err(refuse("is neither a string nor a whole number".into())),
    };
    if let Some(Ok(Some(before))) = old.and_then(text_at)
        && before == raw
    {
        return Ok(());
    }
    match normalise_number_for(&raw, cfg.default_country, cfg.api) {
        Ok(_) => Ok(()),
        // A national number is the identity provider's to send as it likes: only the bridge's
        // configuration (the default country) is missing. The user is stored, its delivery
        // parks saying so, and `scim-bridge outbox retry` sends it once the country is set;
        // refusing it would leave the user out until the identity provider sends it again.
        Err(NumberError::NationalWithoutCountry) => Ok(()),
        Err(problem) => Err(refuse(problem.to_string())),
    }
}
