//! Logging: `tracing` with a `RUST_LOG` filter, human-readable by default, JSON on request.
//! Never log tokens, secrets, bodies, e-mail addresses or phone numbers.

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

impl LogFormat {
    pub const ALLOWED: &'static str = "text, json";

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            t if t.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            t if t.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            t => Err(format!("unknown log format `{t}`: use text or json")),
        }
    }
}

/// Install the global subscriber once, writing in `format` to stderr, in colour only when stderr
/// is a terminal and `NO_COLOR` is not set (https://no-color.org): a log file or a pipe gets
/// plain text, without ANSI escapes.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = colour_wanted(std::io::IsTerminal::is_terminal(&std::io::stderr()), std::env::var_os("NO_COLOR"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Colour on a terminal, unless `NO_COLOR` is set to anything but the empty string.
fn colour_wanted(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// A text for a log line with e-mail addresses and phone numbers masked (`<email>`,
/// `<number>`): for error messages that may quote a user's data (Genesys's refusals, mapping
/// errors). The full text stays in the database for operators (`outbox list`, `/admin`).
pub fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let word = |c: char| c.is_alphanumeric() || "._%+-'".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        // An e-mail address: a word, '@', a word with a dot.
        if word(chars[i]) && (i == 0 || !word(chars[i - 1])) {
            let mut j = i;
            while j < chars.len() && word(chars[j]) {
                j += 1;
            }
            if j < chars.len() && chars[j] == '@' {
                let mut k = j + 1;
                while k < chars.len() && (chars[k].is_alphanumeric() || ".-".contains(chars[k])) {
                    k += 1;
                }
                while k > j + 1 && ".-".contains(chars[k - 1]) {
                    k -= 1;
                }
                if chars[j + 1..k].contains(&'.') {
                    out.push_str("<email>");
                    i = k;
                    continue;
                }
            }
        }
        // A phone number: '+' or a digit, then digits and separators, at least 7 digits.
        if (chars[i] == '+' || chars[i].is_ascii_digit())
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || "-_".contains(chars[i - 1])))
        {
            let mut j = i + 1;
            let mut digits = usize::from(chars[i].is_ascii_digit());
            while j < chars.len() && (chars[j].is_ascii_digit() || " -.()/".contains(chars[j])) {
                digits += usize::from(chars[j].is_ascii_digit());
                j += 1;
            }
            // Do not swallow trailing separators.
            while j > i + 1 && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            if digits >= 7 && (j == chars.len() || !chars[j].is_alphanumeric()) {
                out.push_str("<number>");
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{colour_wanted, redact};

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some("".into())), "an empty NO_COLOR does not count (no-color.org)");
        assert!(!colour_wanted(true, Some("1".into())));
        assert!(!colour_wanted(false, None), "a file or a pipe gets no escapes");
    }

    #[test]
    fn e_mail_addresses_and_phone_numbers_are_masked() {
        for (text, want) in [
            ("User name already in use: jane.doe+x@example.co.uk.", "User name already in use: <email>."),
            ("the 8x8 number '+1 (415) 555-0123' has no country", "the 8x8 number '<number>' has no country"),
            ("tel:+14155550123;ext=42", "tel:<number>;ext=42"),
            (
                "retry in 30000 ms: 503 from Genesys (correlation 0a21f0f2-8d2a-4f8e)",
                "retry in 30000 ms: 503 from Genesys (correlation 0a21f0f2-8d2a-4f8e)",
            ),
            ("user 7c1f3a9e-1111-2222-3333-444455556666 refused", "user 7c1f3a9e-1111-2222-3333-444455556666 refused"),
            ("no @ here, a@b is not an address", "no @ here, a@b is not an address"),
            ("call 020 7946 0958 now", "call <number> now"),
        ] {
            assert_eq!(redact(text), want, "{text}");
        }
    }
}
