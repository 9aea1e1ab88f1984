//! E.164 numbers: the [`PhoneNumber`] newtype and normalization of dialled strings.
//!
//! Two functions, two contracts: [`normalize`] never fails and is
//! what routing and classification use; [`PhoneNumber::parse`] normalizes and then
//! insists on a real E.164 number, failing with `not_reconcilable` otherwise.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use once_cell::sync::Lazy;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, Result};

mod shape;
pub(crate) use shape::Shape;

/// Longest E.164 number: `+` and 15 digits.
const MAX_LEN: usize = 16;

/// A validated E.164 number: `+`, then 8 to 15 digits, the first 1-9.
///
/// It is `Copy` (16 bytes inline, no allocation), compares and sorts exactly as
/// its string does, displays and serializes as its E.164 string.
///
/// ```
/// use number_manager::PhoneNumber;
/// let n = PhoneNumber::parse("(415) 555-1234").unwrap();
/// assert_eq!(n.as_str(), "+14155551234");
/// assert_eq!(n.to_npan(), "4155551234");
/// assert_eq!(n.to_1npan(), "14155551234");
/// assert!(PhoneNumber::parse("+141510010+15").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PhoneNumber {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl PhoneNumber {
    /// Normalizes `raw` with the default [`Normalizer`] and validates the result
    /// as E.164 that also passes the reconcile rule (so `+1` must be followed by
    /// exactly ten digits). Fails with [`Error::NotReconcilable`] carrying the raw input.
    pub fn parse(raw: &str) -> Result<Self> {
        Normalizer::kazoo_default().parse(raw)
    }

    /// Validates an already-normalized E.164 string (`+`, 8 to 15 digits, the
    /// first 1-9) without running converters or the reconcile rule: this is how
    /// stored ids are read back, whatever rules were in force when they were written.
    pub fn from_e164(s: &str) -> Result<Self> {
        Self::try_from_normalized(s).ok_or_else(|| Error::NotReconcilable {
            number: s.to_string(),
        })
    }

    fn try_from_normalized(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 9 || b.len() > MAX_LEN || b[0] != b'+' {
            return None;
        }
        if !(b'1'..=b'9').contains(&b[1]) || !b[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut bytes = [0u8; MAX_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(PhoneNumber {
            len: b.len() as u8,
            bytes,
        })
    }

    /// The stored E.164 bytes (`+` and the digits).
    fn e164_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len as usize).unwrap_or(&[])
    }

    /// The E.164 string, e.g. `+14155551234`.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and '+' are ever stored, so this cannot fail; the
        // fallback keeps the function total without a panic path.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// The digits without the leading `+`.
    pub fn strip_plus(&self) -> &str {
        // `get` rather than indexing: total even on as_str's unreachable fallback.
        self.as_str().get(1..).unwrap_or("")
    }

    /// Whether this is a NANP number (`+1` and a valid 10-digit NPA-NXX-XXXX).
    pub fn is_nanp(&self) -> bool {
        let b = self.as_str().as_bytes();
        b.len() == 12
            && b[1] == b'1'
            && (b'2'..=b'9').contains(&b[2])
            && (b'2'..=b'9').contains(&b[5])
    }

    /// The 10-digit NANP form (`4155551234`); other numbers are returned as E.164.
    pub fn to_npan(&self) -> String {
        if self.is_nanp() {
            self.as_str()[2..].to_string()
        } else {
            self.as_str().to_string()
        }
    }

    /// The 11-digit NANP form (`14155551234`); other numbers are returned as E.164.
    pub fn to_1npan(&self) -> String {
        if self.is_nanp() {
            self.as_str()[1..].to_string()
        } else {
            self.as_str().to_string()
        }
    }

    /// The ITU country calling code (`1`, `44`, `41`, ...), if the number's prefix
    /// is an assigned one.
    pub fn calling_code(&self) -> Option<u16> {
        crate::number::calling_code_of(self.strip_plus())
    }

    /// The ISO 3166 alpha-2 region of the number (`US`, `GB`, `JM`, ...), from the
    /// `phonenumber` crate's metadata; `None` for non-geographic codes (`+800`,
    /// `+882`, ...), unassigned codes, and numbers no region of a shared code claims.
    ///
    /// Off the hot path: answers for shared calling codes are cached.
    ///
    /// ```
    /// use number_manager::PhoneNumber;
    /// assert_eq!(PhoneNumber::parse("+14155551234").unwrap().country(), Some("US"));
    /// assert_eq!(PhoneNumber::parse("+41446681800").unwrap().country(), Some("CH"));
    /// ```
    pub fn country(&self) -> Option<&'static str> {
        let code = self.calling_code()?;
        let database: &'static phonenumber::metadata::Database = &phonenumber::metadata::DATABASE;
        match database.region(&code)?.as_slice() {
            // A code with one region needs no parse: the metadata lookup is the answer,
            // and "001" marks the non-geographic (global service) codes.
            [only] => (*only != NON_GEOGRAPHIC).then_some(*only),
            _ => shared_code_country(*self),
        }
    }
}

/// The metadata's region id for non-geographic calling codes; not an ISO region.
const NON_GEOGRAPHIC: &str = "001";

/// Bound on the cache of [`PhoneNumber::country`] answers for shared calling codes.
const COUNTRY_CACHE_CAP: usize = 16_384;

// Keyed by the whole number rather than by calling code + leading digits: which
// region of a shared code (+1, +7, +44, +262, ...) claims a number is decided by
// each region's own leading-digit and number-type patterns, which look at
// different, sometimes all, digits, so no fixed prefix length gives exact answers.
// A bounded map emptied when full keeps memory flat without an LRU dependency;
// hot numbers come straight back. The ~85 us to 1 ms parse happens once per number.
static COUNTRY_CACHE: Lazy<Mutex<HashMap<PhoneNumber, Option<&'static str>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

fn shared_code_country(number: PhoneNumber) -> Option<&'static str> {
    // The map holds only Copy values, so a panic elsewhere cannot leave it inconsistent.
    let cached = COUNTRY_CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&number)
        .copied();
    if let Some(answer) = cached {
        return answer;
    }
    // The lookup runs unlocked: it is slow, and two threads computing the same
    // answer at once is harmless. The third-party parser has internal unwraps, so
    // a panic there becomes "unknown" instead of reaching the caller.
    let answer = std::panic::catch_unwind(move || {
        let database: &'static phonenumber::metadata::Database = &phonenumber::metadata::DATABASE;
        // No default region: with one, the parser may strip a leading 1 from
        // foreign numbers (its issue #30); the `+` form is unambiguous.
        let parsed = phonenumber::parse(None, number.as_str()).ok()?;
        let id = parsed.metadata(database)?.id();
        (id != NON_GEOGRAPHIC).then_some(id)
    })
    .ok()
    .flatten();
    let mut cache = COUNTRY_CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= COUNTRY_CACHE_CAP {
        cache.clear();
    }
    cache.insert(number, answer);
    answer
}

/// The country calling code a digit string starts with, from the ITU list
/// (one, two or three digits; E.164 codes are prefix-free).
pub(crate) fn calling_code_of(digits: &str) -> Option<u16> {
    for len in 1..=3 {
        if let Some(p) = digits.get(..len) {
            if let Ok(code) = p.parse::<u16>() {
                if phonenumber::metadata::DATABASE.by_code(&code).is_some() {
                    return Some(code);
                }
            }
        }
    }
    None
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.as_str())
    }
}

// Hash, Eq and Ord all follow the string so that `Borrow<str>` is sound and
// ordered maps keyed by numbers can be ranged by a plain prefix string. They work
// on the bytes: going through `as_str` would pay a UTF-8 check per comparison.
impl std::hash::Hash for PhoneNumber {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Exactly what `str`'s Hash feeds the hasher (its bytes, then 0xff), so a
        // map keyed by numbers finds them by `&str`.
        state.write(self.e164_bytes());
        state.write_u8(0xff);
    }
}

impl std::borrow::Borrow<str> for PhoneNumber {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialOrd for PhoneNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PhoneNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Byte order is string order for UTF-8, and these bytes are ASCII.
        self.e164_bytes().cmp(other.e164_bytes())
    }
}

impl FromStr for PhoneNumber {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PhoneNumber::parse(s)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PhoneNumber::from_e164(&s).map_err(serde::de::Error::custom)
    }
}

/// One E.164 converter: when `regex` matches, the result is
/// `prefix + <last capture group that matched, or the whole match> + suffix`.
///
/// ```
/// use number_manager::number::Converter;
/// let c = Converter::new(r"^011(\d{5,})$|^00(\d{5,})$", "+", "").unwrap();
/// assert_eq!(c.apply("0041446681800").as_deref(), Some("+41446681800"));
/// assert_eq!(c.apply("4155551234"), None);
/// ```
#[derive(Debug, Clone)]
pub struct Converter {
    source: String,
    regex: Regex,
    prefix: String,
    suffix: String,
}

impl Converter {
    /// Compiles a converter. `\d` means `[0-9]` only.
    pub fn new(regex: &str, prefix: impl Into<String>, suffix: impl Into<String>) -> Result<Self> {
        Ok(Converter {
            source: regex.to_string(),
            regex: compile_ascii(regex)?,
            prefix: prefix.into(),
            suffix: suffix.into(),
        })
    }

    /// The rule's pattern, as written.
    pub fn pattern(&self) -> &str {
        &self.source
    }

    /// The text put before the captured digits.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The text put after the captured digits.
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// Applies the rule: `Some(rewritten)` when it matches.
    pub fn apply(&self, input: &str) -> Option<String> {
        let caps = self.regex.captures(input)?;
        // Erlang's `re` drops trailing groups that did not take part, so Kazoo's
        // "last capture" is the highest-numbered group that matched.
        let body = (1..caps.len())
            .rev()
            .find_map(|i| caps.get(i))
            .or_else(|| caps.get(0))
            .map(|m| m.as_str())
            .unwrap_or("");
        Some(format!("{}{}{}", self.prefix, body, self.suffix))
    }
}

/// Compiles a rule (converter, reconcile rule, dial plan or classifier) exactly as
/// this crate does everywhere: `\d`, `\w`, `\s` and `\b` are ASCII-only even where
/// the pattern needs Unicode mode, `$` matches only at the very end (never before
/// a trailing newline, unlike PCRE), and there are no implicit flags.
///
/// Use it to check a host's own rules, or to compare against the crate's answers.
///
/// ```
/// use number_manager::number::compile_rule;
/// let re = compile_rule(r"^\d{3}$").unwrap();
/// assert!(re.is_match("911"));
/// assert!(!re.is_match("٩١١")); // Arabic-Indic digits are not digits here
/// assert!(!re.is_match("911\n"));
/// assert!(compile_rule("(").is_err());
/// ```
pub fn compile_rule(pattern: &str) -> Result<Regex> {
    compile_ascii(pattern)
}

/// Compiles a rule regex with ASCII-only `\d`, `\w`, `\s` so that phone rules
/// never match other scripts' digits.
pub(crate) fn compile_ascii(pattern: &str) -> Result<Regex> {
    ascii_rule(pattern)
        .map(|(_, regex)| regex)
        .map_err(|reason| Error::validation("regex", "pattern", reason))
}

/// The pattern text that, compiled with default settings (as a `RegexSet` does),
/// has the same meaning as [`compile_ascii`]'s regex, along with that regex; or
/// why the pattern is invalid.
pub(crate) fn ascii_rule(pattern: &str) -> std::result::Result<(String, Regex), String> {
    let ascii = ascii_perl_classes(pattern);
    // Byte-oriented (non-Unicode) mode first, as the rules were written for it.
    // It refuses patterns that could match inside a UTF-8 sequence (`.`, `[^0-9]`,
    // as in the `unknown` classifier's `^(.*)$`) or that hold non-ASCII literals;
    // those compile in Unicode mode, where the rewritten classes stay ASCII.
    // Carrying the mode as an inline flag keeps a single pattern string that a
    // `RegexSet` compiles to exactly the same automaton.
    let byte_mode = format!("(?-u){ascii}");
    if let Ok(regex) = Regex::new(&byte_mode) {
        return Ok((byte_mode, regex));
    }
    match Regex::new(&ascii) {
        Ok(regex) => Ok((ascii, regex)),
        Err(e) => Err(format!("invalid regex {pattern:?}: {e}")),
    }
}

/// The pattern text [`ascii_rule`] chooses, found by parsing alone (no
/// automaton is built); or why the pattern does not parse. The parser is the
/// one `Regex::new` runs, with the same settings, so a pattern it accepts fails
/// to compile only by being too large for the compiled-size limit.
pub(crate) fn ascii_pattern(pattern: &str) -> std::result::Result<String, String> {
    let ascii = ascii_perl_classes(pattern);
    let byte_mode = format!("(?-u){ascii}");
    if regex_automata::util::syntax::parse(&byte_mode).is_ok() {
        return Ok(byte_mode);
    }
    match regex_automata::util::syntax::parse(&ascii) {
        Ok(_) => Ok(ascii),
        Err(e) => Err(format!("invalid regex {pattern:?}: {e}")),
    }
}

/// Replaces the Perl classes and word boundaries with ASCII-only equivalents.
///
/// Unicode mode cannot be turned off for the whole of some patterns, and inline
/// flags inside a rule (`(?u)`) could turn it back on, so the escapes themselves
/// are rewritten. The replacements are bracketed classes, which are valid both
/// outside and nested inside a class (`[^\d]` becomes `[^[0-9]]`), so no parsing
/// of class boundaries is needed; an escaped backslash is copied as a pair so its
/// second half is never read as the start of an escape.
fn ascii_perl_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(escaped) = chars.next() else {
            // A trailing lone backslash is a syntax error; keep it so compiling reports it.
            out.push(c);
            break;
        };
        // Spaces are written `\x20` so that verbose mode `(?x)` does not drop them.
        let replacement = match escaped {
            'd' => "[0-9]",
            'D' => "[^0-9]",
            'w' => "[0-9A-Za-z_]",
            'W' => "[^0-9A-Za-z_]",
            's' => r"[\t\n\x0B\x0C\r\x20]",
            'S' => r"[^\t\n\x0B\x0C\r\x20]",
            'b' => r"(?-u:\b)",
            'B' => r"(?-u:\B)",
            other => {
                out.push('\\');
                out.push(other);
                continue;
            }
        };
        out.push_str(replacement);
    }
    out
}

/// An account dial plan: ordered `regex -> {prefix, suffix}` rewrites applied
/// before the converters.
///
/// ```
/// use number_manager::number::{DialPlan, Normalizer};
/// let json = serde_json::json!({"^(\\d{7})$": {"prefix": "+1415"}});
/// let plan = DialPlan::from_json(&json).unwrap();
/// let n = Normalizer::kazoo_default();
/// assert_eq!(n.normalize_with_dial_plan("555-1234", &plan), "+14155551234");
/// assert_eq!(n.normalize_with_dial_plan("4155551234", &plan), "+14155551234");
/// ```
#[derive(Debug, Clone, Default)]
pub struct DialPlan {
    rules: Vec<Converter>,
}

impl DialPlan {
    /// A dial plan of these rules, tried in order (compiled already, so this
    /// cannot fail).
    ///
    /// ```
    /// use number_manager::number::{Converter, DialPlan, Normalizer};
    /// let seven = Converter::new(r"^(\d{7})$", "+1415", "").unwrap();
    /// let plan = DialPlan::new(vec![seven]);
    /// let n = Normalizer::kazoo_default();
    /// assert_eq!(n.normalize_with_dial_plan("555-1234", &plan), "+14155551234");
    /// ```
    pub fn new(rules: Vec<Converter>) -> Self {
        DialPlan { rules }
    }

    /// Loads a dial plan from its JSON object shape, keeping key order:
    /// `{"^(\\d{7})$": {"prefix": "+1415"}}`.
    pub fn from_json(value: &Value) -> Result<Self> {
        Ok(DialPlan {
            rules: converters_from_json("dial_plan", value)?,
        })
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[Converter] {
        &self.rules
    }

    /// Rewrites `input` with the first matching rule, if any.
    pub fn apply(&self, input: &str) -> Option<String> {
        self.rules.iter().find_map(|r| r.apply(input))
    }
}

fn converters_from_json(field: &str, value: &Value) -> Result<Vec<Converter>> {
    let obj = value
        .as_object()
        .ok_or_else(|| Error::validation(field, "type", "must be an object"))?;
    let mut out = Vec::with_capacity(obj.len());
    for (regex, spec) in obj {
        let spec = spec.as_object().ok_or_else(|| {
            Error::validation(
                format!("{field}.{regex}"),
                "type",
                "must be an object with prefix and suffix",
            )
        })?;
        let text = |k: &str| match spec.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(Error::validation(
                format!("{field}.{regex}.{k}"),
                "type",
                "must be a string",
            )),
        };
        out.push(Converter::new(regex, text("prefix")?, text("suffix")?)?);
    }
    Ok(out)
}

/// Kazoo's default `e164_converters`, in order.
pub const DEFAULT_CONVERTERS: &[(&str, &str)] = &[
    (r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$", "+1"),
    (r"^011(\d{5,})$|^00(\d{5,})$", "+"),
    (r"^[2-9]\d{7,}$", "+"),
];

/// Kazoo's default `reconcile_regex`.
pub const DEFAULT_RECONCILE_REGEX: &str = r"^(\+?1)?\d{10}$|^\+[2-9]\d{7,}$|^011\d*$|^00\d*$";

/// The separators normalizing removes: space, tab, `-`, `.`, `(`, `)`, `/`.
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'-' | b'.' | b'(' | b')' | b'/')
}

/// Cleaned input up to this length is classified from a stack buffer.
const SCRATCH: usize = 40;

/// Normalization rules as data: ordered converters and the reconcile rule.
///
/// Normalizing trims surrounding whitespace, reduces an RFC 3966 `tel:` URI with a
/// global number (`tel:+1-415-555-0100;ext=1`) to that number, removes the
/// separators space, tab, `-`, `.`, `(`, `)` and `/`, then returns the cleaned
/// input when it starts with `+`, else
/// the first converter's rewrite; when no converter matches, the trimmed input is
/// returned as it was given (separators kept), so nothing is lost from strings that
/// are not numbers. Parsing also requires E.164 and the reconcile rule.
///
/// When the converters and the reconcile rule are exactly the defaults, in order,
/// they are decided by hand in one pass over the bytes, with the answers the
/// regexes give; any other rule set runs its regexes.
///
/// ```
/// use number_manager::number::Normalizer;
/// let n = Normalizer::kazoo_default();
/// assert_eq!(n.normalize("4123456789"), "+14123456789");
/// assert_eq!(n.normalize("41234567"), "+41234567");
/// assert_eq!(n.normalize("(415) 555-1234"), "+14155551234");
/// assert_eq!(n.normalize("415/555\t1234"), "+14155551234");
/// assert_eq!(n.normalize("tel:+1-415-555-0100;ext=7"), "+14155550100");
/// assert_eq!(n.normalize("12345"), "12345");
/// assert!(n.is_reconcilable("+1 415 555 1234"));
/// assert!(n.parse("1000").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Normalizer {
    converters: Vec<Converter>,
    reconcile_source: String,
    // `None` only if a built-in constant failed to compile (tests prove it does not);
    // then nothing is reconcilable rather than the library panicking.
    reconcile: Option<Regex>,
    // Whether the converters and the reconcile rule are exactly Kazoo's defaults,
    // which `default_rules` decides by hand, byte by byte, without the regex engine.
    builtin: bool,
}

/// Whether `converters` and `reconcile` are, in order and to the byte, the
/// default rules the hand-written path in `default_rules` implements.
fn is_builtin(converters: &[Converter], reconcile: &str) -> bool {
    reconcile == DEFAULT_RECONCILE_REGEX
        && converters.len() == DEFAULT_CONVERTERS.len()
        && converters
            .iter()
            .zip(DEFAULT_CONVERTERS)
            .all(|(c, (re, prefix))| c.source == *re && c.prefix == *prefix && c.suffix.is_empty())
}

/// Kazoo's default rules decided by hand: what the regexes in
/// [`DEFAULT_CONVERTERS`] and [`DEFAULT_RECONCILE_REGEX`] answer, without them.
mod default_rules {
    fn digits(b: &[u8]) -> bool {
        b.iter().all(u8::is_ascii_digit)
    }

    /// `[2-9][0-9]{2}[2-9][0-9]{6}`: a NANP NPA-NXX-XXXX.
    fn npan(b: &[u8]) -> bool {
        b.len() == 10 && (b'2'..=b'9').contains(&b[0]) && (b'2'..=b'9').contains(&b[3]) && digits(b)
    }

    /// The first default converter that matches `cleaned` (which does not start
    /// with `+`), as `(prefix, start)`: the rewrite is the prefix followed by
    /// `cleaned` from byte `start` on.
    pub(super) fn convert(b: &[u8]) -> Option<(&'static str, usize)> {
        // `^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$` -> "+1" and group 2.
        if npan(b) {
            return Some(("+1", 0));
        }
        if b.len() == 11 && b.first() == Some(&b'1') && npan(b.get(1..).unwrap_or(&[])) {
            return Some(("+1", 1));
        }
        // `^011(\d{5,})$|^00(\d{5,})$` -> "+" and whichever group matched.
        for prefix in [&b"011"[..], &b"00"[..]] {
            if let Some(rest) = b.strip_prefix(prefix) {
                if rest.len() >= 5 && digits(rest) {
                    return Some(("+", prefix.len()));
                }
            }
        }
        // `^[2-9]\d{7,}$` -> "+" and the whole match.
        if b.len() >= 8 && (b'2'..=b'9').contains(&b[0]) && digits(b) {
            return Some(("+", 0));
        }
        None
    }

    /// The default reconcile rule on a string already known to be E.164-shaped
    /// (`+`, 8 to 15 digits, the first 1-9): `+1` needs exactly ten more digits.
    pub(super) fn reconciles_e164(e164: &[u8]) -> bool {
        match e164.get(1) {
            Some(b'1') => e164.len() == 12,
            Some(_) => true,
            None => false,
        }
    }
}

static DEFAULT_NORMALIZER: Lazy<Normalizer> = Lazy::new(|| {
    let converters: Vec<Converter> = DEFAULT_CONVERTERS
        .iter()
        .filter_map(|(re, prefix)| Converter::new(re, *prefix, "").ok())
        .collect();
    let reconcile = compile_ascii(DEFAULT_RECONCILE_REGEX).ok();
    let builtin = reconcile.is_some() && is_builtin(&converters, DEFAULT_RECONCILE_REGEX);
    Normalizer {
        converters,
        reconcile_source: DEFAULT_RECONCILE_REGEX.to_string(),
        reconcile,
        builtin,
    }
});

impl Default for Normalizer {
    fn default() -> Self {
        Self::kazoo_default().clone()
    }
}

impl Normalizer {
    /// The shared default normalizer with Kazoo's three converters.
    pub fn kazoo_default() -> &'static Normalizer {
        &DEFAULT_NORMALIZER
    }

    /// Builds a normalizer from converter and reconcile rules in their JSON shape:
    /// `{"<regex>": {"prefix": "+1", "suffix": ""}, ...}` (key order kept).
    pub fn from_json(converters: &Value, reconcile_regex: &str) -> Result<Self> {
        let converters = converters_from_json("e164_converters", converters)?;
        Ok(Normalizer {
            builtin: is_builtin(&converters, reconcile_regex),
            converters,
            reconcile_source: reconcile_regex.to_string(),
            reconcile: Some(compile_ascii(reconcile_regex)?),
        })
    }

    /// The converters, in the order they are tried.
    pub fn converters(&self) -> &[Converter] {
        &self.converters
    }

    /// The reconcile rule's pattern, as written.
    pub fn reconcile_regex(&self) -> &str {
        &self.reconcile_source
    }

    /// The converters in their JSON object shape, in order (what
    /// [`Normalizer::from_json`] reads).
    pub fn converters_to_json(&self) -> Value {
        let map = self
            .converters
            .iter()
            .map(|c| {
                let mut spec = serde_json::Map::new();
                spec.insert("prefix".into(), Value::String(c.prefix.clone()));
                if !c.suffix.is_empty() {
                    spec.insert("suffix".into(), Value::String(c.suffix.clone()));
                }
                (c.source.clone(), Value::Object(spec))
            })
            .collect();
        Value::Object(map)
    }

    /// The global number of an RFC 3966 `tel:` URI (scheme in any case, the
    /// parameters after `;` dropped); any other input comes back as it is.
    fn strip_tel_uri(trimmed: &str) -> &str {
        let rest = match trimmed.get(..4) {
            Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => trimmed.get(4..),
            _ => None,
        };
        match rest.and_then(|r| r.split(';').next()) {
            // Only a global number names itself; a local one needs its context.
            Some(number) if number.starts_with('+') => number,
            _ => trimmed,
        }
    }

    /// Removes the visual separators (space, tab, `-`, `.`, `(`, `)`, `/`) from
    /// already-trimmed input.
    fn clean(trimmed: &str) -> Cow<'_, str> {
        if trimmed.bytes().any(is_separator) {
            // Separators are ASCII, so dropping them leaves whole characters.
            let mut out = String::with_capacity(trimmed.len());
            out.extend(
                trimmed
                    .chars()
                    .filter(|c| !u8::try_from(*c).is_ok_and(is_separator)),
            );
            Cow::Owned(out)
        } else {
            Cow::Borrowed(trimmed)
        }
    }

    /// Normalizes a dialled string. Never fails; see the type's description for
    /// what comes back when no converter matches.
    ///
    /// The result borrows `raw` whenever it is a piece of it: input already in
    /// E.164 (or left as it was) is never copied.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use number_manager::number::Normalizer;
    /// let n = Normalizer::kazoo_default();
    /// assert!(matches!(n.normalize("+14155551234"), Cow::Borrowed("+14155551234")));
    /// assert_eq!(n.normalize("415 555 1234").into_owned(), "+14155551234");
    /// ```
    pub fn normalize<'r>(&self, raw: &'r str) -> Cow<'r, str> {
        let trimmed = raw.trim();
        let cleaned = Self::clean(Self::strip_tel_uri(trimmed));
        if cleaned.starts_with('+') {
            return cleaned;
        }
        if self.builtin {
            return match default_rules::convert(cleaned.as_bytes()) {
                Some((prefix, start)) => {
                    let body = cleaned.get(start..).unwrap_or("");
                    let mut out = String::with_capacity(prefix.len() + body.len());
                    out.push_str(prefix);
                    out.push_str(body);
                    Cow::Owned(out)
                }
                None => Cow::Borrowed(trimmed),
            };
        }
        self.normalize_by_regex(trimmed, &cleaned)
    }

    /// The [`Shape`] of [`Normalizer::normalize`]'s answer, without building
    /// it: with the default rules, the cleaned input goes to a buffer on the
    /// stack and a rewrite is never joined, so nothing is allocated.
    pub(crate) fn normalized_shape(&self, raw: &str) -> Shape {
        let trimmed = raw.trim();
        let uri = Self::strip_tel_uri(trimmed);
        let mut scratch = [0u8; SCRATCH];
        let cleaned = match Self::clean_into(uri, &mut scratch) {
            Some(cleaned) if self.builtin => cleaned,
            _ => return Shape::of(self.normalize(raw).as_bytes()),
        };
        if let Some(rest) = cleaned.strip_prefix(b"+") {
            return Shape::of_parts(true, rest, &[]);
        }
        match default_rules::convert(cleaned) {
            Some((prefix, start)) => Shape::of_parts(
                true,
                prefix.as_bytes().get(1..).unwrap_or(&[]),
                cleaned.get(start..).unwrap_or(&[]),
            ),
            None => Shape::of(trimmed.as_bytes()),
        }
    }

    /// `trimmed` without its separators: itself when it has none, else copied
    /// into `scratch`; `None` when that does not fit.
    fn clean_into<'a>(trimmed: &'a str, scratch: &'a mut [u8; SCRATCH]) -> Option<&'a [u8]> {
        let bytes = trimmed.as_bytes();
        if !bytes.iter().copied().any(is_separator) {
            return Some(bytes);
        }
        let mut len = 0;
        for &b in bytes.iter().filter(|b| !is_separator(**b)) {
            *scratch.get_mut(len)? = b;
            len += 1;
        }
        scratch.get(..len)
    }

    /// The converters run by the regex engine, in order: the reference the
    /// hand-written default rules must equal.
    fn normalize_by_regex<'r>(&self, trimmed: &'r str, cleaned: &str) -> Cow<'r, str> {
        self.converters
            .iter()
            .find_map(|c| c.apply(cleaned))
            .map_or(Cow::Borrowed(trimmed), Cow::Owned)
    }

    /// Like [`Normalizer::normalize`], with an account dial plan tried first
    /// (on the cleaned input); its rewrite then goes through the converters.
    pub fn normalize_with_dial_plan<'r>(&self, raw: &'r str, plan: &DialPlan) -> Cow<'r, str> {
        let cleaned = Self::clean(Self::strip_tel_uri(raw.trim()));
        if cleaned.starts_with('+') {
            return cleaned;
        }
        match plan.apply(&cleaned) {
            Some(rewritten) => Cow::Owned(self.normalize(&rewritten).into_owned()),
            None => self.normalize(raw),
        }
    }

    /// Whether `raw` would parse: its normalized form is E.164 and passes the
    /// reconcile rule.
    pub fn is_reconcilable(&self, raw: &str) -> bool {
        self.check(&self.normalize(raw)).is_some()
    }

    /// Normalizes and validates: E.164 (`+`, 8 to 15 digits, the first 1-9) and
    /// the reconcile rule. Fails with [`Error::NotReconcilable`] carrying the raw input.
    pub fn parse(&self, raw: &str) -> Result<PhoneNumber> {
        self.parse_normalized(&self.normalize(raw), raw)
    }

    /// [`Normalizer::parse`] of `raw` whose [`Normalizer::normalize`]d form
    /// is `normalized`: for a caller that needs both, so it normalizes once.
    pub(crate) fn parse_normalized(&self, normalized: &str, raw: &str) -> Result<PhoneNumber> {
        self.check(normalized)
            .ok_or_else(|| Error::NotReconcilable {
                number: raw.to_string(),
            })
    }

    /// Like [`Normalizer::parse`], with an account dial plan tried first.
    pub fn parse_with_dial_plan(&self, raw: &str, plan: &DialPlan) -> Result<PhoneNumber> {
        self.check(&self.normalize_with_dial_plan(raw, plan))
            .ok_or_else(|| Error::NotReconcilable {
                number: raw.to_string(),
            })
    }

    // Kazoo's reconcile rule alone admits non-E.164 strings (`0114`, `1005551234`)
    // that then break record building: a parsed number must pass both.
    fn check(&self, normalized: &str) -> Option<PhoneNumber> {
        let number = PhoneNumber::try_from_normalized(normalized)?;
        if self.builtin {
            return default_rules::reconciles_e164(number.e164_bytes()).then_some(number);
        }
        self.reconcile
            .as_ref()
            .is_some_and(|r| r.is_match(normalized))
            .then_some(number)
    }
}

/// Normalizes with the default rules. Never fails.
///
/// ```
/// assert_eq!(number_manager::normalize("011 44 20 7123 4567"), "+442071234567");
/// assert_eq!(number_manager::normalize("*97"), "*97");
/// ```
pub fn normalize(raw: &str) -> Cow<'_, str> {
    Normalizer::kazoo_default().normalize(raw)
}

/// Whether `raw` parses as a number under the default rules
/// (the same answer as `PhoneNumber::parse(raw).is_ok()`).
pub fn is_reconcilable(raw: &str) -> bool {
    Normalizer::kazoo_default().is_reconcilable(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The slow reference: the same cleaning, then the converters and the reconcile
    /// rule run by the regex engine, in order.
    fn by_regex(n: &Normalizer, raw: &str) -> (String, bool) {
        let trimmed = raw.trim();
        let cleaned = Normalizer::clean(Normalizer::strip_tel_uri(trimmed));
        let normalized = if cleaned.starts_with('+') {
            cleaned.into_owned()
        } else {
            n.normalize_by_regex(trimmed, &cleaned).into_owned()
        };
        let reconciles = PhoneNumber::try_from_normalized(&normalized).is_some()
            && n.reconcile
                .as_ref()
                .is_some_and(|r| r.is_match(&normalized));
        (normalized, reconciles)
    }

    fn dialled() -> impl Strategy<Value = String> {
        let head = prop_oneof![
            Just(""),
            Just("1"),
            Just("+1"),
            Just("011"),
            Just("00"),
            Just("01"),
            Just("+"),
            Just("tel:+"),
            Just("TeL:"),
            Just(" \t"),
        ];
        let body = prop_oneof![
            "[0-9]{0,17}",
            "[0-9 \\-.()/\\t]{0,24}",
            "[2-9][0-9]{2}[0-9]{7}",
            "[0-9+;a-z٠-٩０-９\\n\\r ]{0,20}",
            "[0-9]{200,2000}",
            any::<String>(),
        ];
        let tail = prop_oneof![Just(""), Just(";ext=1"), Just("\t"), Just("\n"), Just("x")];
        (head, body, tail).prop_map(|(h, b, t)| format!("{h}{b}{t}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn default_rules_by_hand_equal_the_regexes(raw in dialled()) {
            let n = Normalizer::kazoo_default();
            prop_assert!(n.builtin);
            let (normalized, reconciles) = by_regex(n, &raw);
            prop_assert_eq!(n.normalize(&raw), normalized);
            prop_assert_eq!(n.is_reconcilable(&raw), reconciles);
        }

        #[test]
        fn the_shape_without_allocating_is_the_shape_of_the_normalized_string(raw in dialled()) {
            let defaults = Normalizer::kazoo_default();
            let by_regex = Normalizer::from_json(&n_json(), r"^\+\d{8,15}$").unwrap();
            prop_assert!(!by_regex.builtin);
            for n in [defaults, &by_regex] {
                let normalized = n.normalize(&raw);
                prop_assert_eq!(n.normalized_shape(&raw), Shape::of(normalized.as_bytes()));
            }
        }
    }

    #[test]
    fn input_already_in_e164_or_left_as_given_is_borrowed() {
        let n = Normalizer::kazoo_default();
        for raw in [
            "+14155551234",
            " +442071234567\t",
            "*97",
            "tel:+14155551234;ext=1",
            "911",
        ] {
            assert!(matches!(n.normalize(raw), Cow::Borrowed(_)), "{raw:?}");
        }
        for raw in ["4155551234", "+1 415 555 1234", "011442071234567"] {
            assert!(matches!(n.normalize(raw), Cow::Owned(_)), "{raw:?}");
        }
    }

    #[test]
    fn only_the_exact_default_rules_take_the_hand_written_path() {
        let json = n_json();
        let same = Normalizer::from_json(&json, DEFAULT_RECONCILE_REGEX).unwrap();
        assert!(same.builtin);
        let other_reconcile = Normalizer::from_json(&json, r"^\+\d{8,}$").unwrap();
        assert!(!other_reconcile.builtin);
        // `+15` is not reconcilable by default, but is under the looser rule.
        assert!(!same.is_reconcilable("+15555555555555"));
        assert!(other_reconcile.is_reconcilable("+15555555555555"));
        let mut reordered = json.as_object().unwrap().clone();
        let first = reordered.keys().next().unwrap().clone();
        let rule = reordered.remove(&first).unwrap();
        reordered.insert(first, rule);
        let reordered =
            Normalizer::from_json(&Value::Object(reordered), DEFAULT_RECONCILE_REGEX).unwrap();
        assert!(!reordered.builtin);
        // The eight-digit rule now runs first, so ten digits get no `+1`.
        assert_eq!(reordered.normalize("4155551234"), "+4155551234");
        assert_eq!(same.normalize("4155551234"), "+14155551234");
    }

    fn n_json() -> Value {
        Normalizer::kazoo_default().converters_to_json()
    }
}
