//! Why a user or group cannot be sent to Genesys ([`MappingError`]), and why a number cannot
//! be normalised ([`NumberError`]). Messages never hold a phone number or an e-mail address.

use std::fmt;

/// The resource a [`MappingError`] is about, by the bridge's id (never by name or e-mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(Option<String>),
    Group(Option<String>),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, id) = match self {
            Subject::User(id) => ("user", id),
            Subject::Group(id) => ("group", id),
        };
        match id {
            Some(id) => write!(f, "{kind} {id}"),
            None => write!(f, "{kind} (without id)"),
        }
    }
}

/// A user or group that cannot be sent to Genesys as it is. Per resource and actionable: fixing
/// the data at the identity provider (or the configuration) fixes it; retrying does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subject}: {kind}")]
pub struct MappingError {
    pub subject: Subject,
    pub kind: MappingErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingErrorKind {
    #[error("`userName` is missing; Genesys requires it (it is the user's Genesys login e-mail)")]
    MissingUserName,
    #[error("`userName` is not an e-mail address; Genesys uses it as the user's login e-mail (genesys-api-notes §1.3)")]
    UserNameNotEmail,
    #[error("`{attribute}` must be {expected}")]
    WrongType { attribute: String, expected: &'static str },
    #[error("the 8x8 number at `{path}` is neither a string nor a whole number")]
    NumberSourceNotText { path: String },
    #[error("the 8x8 number at `{path}` {problem}")]
    EightByEightNumber { path: String, problem: NumberError },
    #[error("the Genesys user has no integer `version`; PATCH needs the user as GET /api/v2/users/{{id}} returns it")]
    CurrentWithoutVersion,
    #[error("`displayName` is missing; Genesys matches groups by it (genesys-api-notes §1.11)")]
    GroupWithoutDisplayName,
}

/// Why a phone number cannot be normalised. Never holds the number: it says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {max} characters")]
    TooManyCharacters { max: usize },
    #[error(
        "contains letters; a number may hold only digits, `+`, spaces, `-`, `.`, `(`, `)`, `/` and an extension such \
         as `x42`, `ext. 42` or `;ext=42` (vanity numbers cannot be dialled)"
    )]
    Letters,
    #[error("contains the character {0:?}, which a phone number cannot hold")]
    UnexpectedCharacter(char),
    #[error("has a `+` that does not start the number")]
    MisplacedPlus,
    #[error("has no digits")]
    NoDigits,
    #[error("starts its country code with 0, which no country code does")]
    CountryCodeZero,
    #[error("has {digits} digits; an international number has at least 7, country code included")]
    TooShort { digits: usize },
    #[error("has {digits} digits; E.164 allows at most 15, country code included")]
    TooLong { digits: usize },
    #[error("is a +1 (North American) number with {digits} digits after the country code; it needs 10")]
    NanpLength { digits: usize },
    #[error("has a North American area code starting with 0 or 1, which no area code does")]
    NanpAreaCode,
    #[error(
        "is in national format (no `+` and country code) and no default country is configured: have the identity \
         provider send international numbers, or configure the default country"
    )]
    NationalWithoutCountry,
    #[error("is a national {country} number with {digits} digits; {country} numbers have 10 (area code included)")]
    NationalLength { country: &'static str, digits: usize },
    #[error("has an extension that is not 1 to 10 digits")]
    BadExtension,
    #[error(
        "is an extension without a number; Genesys cannot dial an 8x8 extension on its own: send the full \
         international number with the extension (`+1 415 555 0123;ext=123`)"
    )]
    ExtensionOnly,
    #[error(
        "has an extension, which the Platform API cannot take with a number (its `Contact.extension` is a Genesys \
         internal extension and excludes `address`, genesys-api-notes §14): send the number without the extension, \
         or use the SCIM API mode, which takes numbers with extensions"
    )]
    ExtensionInPlatformMode,
}
