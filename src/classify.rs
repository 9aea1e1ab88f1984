//! Classification of dialled numbers and pretty printing.
//!
//! Classifiers are an ordered list: a number belongs to the **first** classifier
//! whose regex matches its normalized form. The list is compiled once into one
//! multi-pattern automaton, so one scan of the number decides, however many
//! classifiers there are; the answer is still exactly the in-order first match
//! (see [`Classifiers`] for how).
//!
//! A list whose every pattern is one of the default list's or the older
//! published list's (to the byte, in any order) is decided by hand instead:
//! one scan of the normalized number gathers what those patterns look at
//! (a leading `+`, the length, whether the rest is all digits, a line break,
//! the first digits), and [`Classifiers::first_for`] normalizes and classifies
//! in one pass over the input without allocating.
//!
//! ```
//! use number_manager::classify::{classify, Classifiers};
//! let c = classify("4158867900").unwrap();
//! assert_eq!(c.name, "did_us");
//! assert_eq!(c.e164, "+14158867900");
//! assert_eq!(classify("911").unwrap().name, "emergency");
//! let defaults = Classifiers::kazoo_default();
//! assert_eq!(defaults.pretty_print_number("+18005551212"), "(800) 555 - 1212");
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use once_cell::sync::Lazy;
use regex::RegexSet;
use regex_automata::meta::Regex as MetaRegex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::number::{ascii_pattern, ascii_rule, Normalizer};

mod known;
use crate::number::Shape;
use known::Known;

/// The regex of a classifier configured without one: it matches only the empty string.
pub const MISSING_REGEX: &str = "^$";

/// The template used for `+1` numbers whose classifier has none.
pub const NANP_FALLBACK_TEMPLATE: &str = "SS(###) ### - ####";

/// One classifier: a named regex over normalized numbers.
///
/// ```
/// use number_manager::classify::{Classifier, Classifiers};
/// let local = Classifier::new("local", r"^\+1415\d{7}$", "San Francisco");
/// let set = Classifiers::new(vec![local]).unwrap();
/// assert_eq!(set.classify("415-555-1234").unwrap().friendly_name, "San Francisco");
/// assert!(set.classify("212-555-1234").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classifier {
    /// The key it is configured under (`did_us`).
    pub name: String,
    /// The pattern source, matched against the normalized number (`\d` is ASCII-only).
    pub regex: String,
    /// Human name (`US DID`).
    pub friendly_name: String,
    /// Template for [`pretty_print`], if the classifier has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_print: Option<String>,
    /// Whether numbers of this class reach emergency services.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
}

impl Classifier {
    /// A classifier without pretty print template, not an emergency one.
    pub fn new(
        name: impl Into<String>,
        regex: impl Into<String>,
        friendly_name: impl Into<String>,
    ) -> Self {
        Classifier {
            name: name.into(),
            regex: regex.into(),
            friendly_name: friendly_name.into(),
            pretty_print: None,
            emergency: false,
        }
    }

    /// Sets the pretty print template.
    pub fn with_pretty_print(mut self, template: impl Into<String>) -> Self {
        self.pretty_print = Some(template.into());
        self
    }

    /// Marks the classifier as an emergency one.
    pub fn with_emergency(mut self, emergency: bool) -> Self {
        self.emergency = emergency;
        self
    }

    /// Reads one configured classifier: a legacy bare regex string, or an object
    /// `{regex?, friendly_name?, pretty_print?, emergency?}` where the regex
    /// defaults to `^$` and the friendly name to `name`.
    pub fn from_json(name: &str, value: &Value) -> Result<Self> {
        let field = |key: &str| format!("classifiers.{name}.{key}");
        let obj = match value {
            Value::String(regex) => return Ok(Classifier::new(name, regex.as_str(), name)),
            Value::Object(obj) => obj,
            _ => {
                return Err(Error::validation(
                    format!("classifiers.{name}"),
                    "type",
                    "must be an object or a regex string",
                ))
            }
        };
        let text = |key: &str| -> Result<Option<String>> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::validation(field(key), "type", "must be a string")),
            }
        };
        // Kazoo reads the flag with `kz_term:is_true`, which also takes the string.
        let emergency = match obj.get("emergency") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            Some(_) => {
                return Err(Error::validation(
                    field("emergency"),
                    "type",
                    "must be a boolean",
                ))
            }
        };
        Ok(Classifier {
            name: name.to_string(),
            regex: text("regex")?.unwrap_or_else(|| MISSING_REGEX.to_string()),
            friendly_name: text("friendly_name")?.unwrap_or_else(|| name.to_string()),
            pretty_print: text("pretty_print")?,
            emergency,
        })
    }

    /// The classifier's value in the configuration object shape:
    /// `{regex, friendly_name, pretty_print?, emergency?}`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("regex".into(), Value::String(self.regex.clone()));
        obj.insert(
            "friendly_name".into(),
            Value::String(self.friendly_name.clone()),
        );
        if let Some(template) = &self.pretty_print {
            obj.insert("pretty_print".into(), Value::String(template.clone()));
        }
        if self.emergency {
            obj.insert("emergency".into(), Value::Bool(true));
        }
        Value::Object(obj)
    }
}

/// The result of classifying one number: the winning classifier's fields plus
/// the raw input (`number`) and its normalized form (`e164`).
///
/// It borrows the classifier's strings and the input (the normalized form too,
/// when it is a piece of the input); [`Classification::into_owned`] detaches it.
///
/// ```
/// use number_manager::classify::classify;
/// let c = classify("4158867900").unwrap();
/// assert_eq!(c.to_json()["name"], "did_us");
/// assert_eq!(c.to_json()["number"], "4158867900");
/// assert_eq!(c.to_json()["e164"], "+14158867900");
/// let owned: number_manager::Classification<'static> = c.into_owned();
/// assert_eq!(owned.friendly_name, "US DID");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification<'a> {
    /// The classifier's name (`did_us`).
    pub name: Cow<'a, str>,
    /// The classifier's human name (`US DID`).
    pub friendly_name: Cow<'a, str>,
    /// The classifier's regex source.
    pub regex: Cow<'a, str>,
    /// The input, as given.
    pub number: Cow<'a, str>,
    /// The normalized input (what the regex matched; not always E.164).
    pub e164: Cow<'a, str>,
    /// The classifier's pretty print template, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_print: Option<Cow<'a, str>>,
    /// Whether the classifier is an emergency one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
}

impl<'a> Classification<'a> {
    fn new(classifier: &'a Classifier, raw: &'a str, normalized: Cow<'a, str>) -> Self {
        Classification {
            name: Cow::Borrowed(&classifier.name),
            friendly_name: Cow::Borrowed(&classifier.friendly_name),
            regex: Cow::Borrowed(&classifier.regex),
            number: Cow::Borrowed(raw),
            e164: normalized,
            pretty_print: classifier.pretty_print.as_deref().map(Cow::Borrowed),
            emergency: classifier.emergency,
        }
    }

    /// The same classification owning all its strings.
    pub fn into_owned(self) -> Classification<'static> {
        Classification {
            name: Cow::Owned(self.name.into_owned()),
            friendly_name: Cow::Owned(self.friendly_name.into_owned()),
            regex: Cow::Owned(self.regex.into_owned()),
            number: Cow::Owned(self.number.into_owned()),
            e164: Cow::Owned(self.e164.into_owned()),
            pretty_print: self.pretty_print.map(|t| Cow::Owned(t.into_owned())),
            emergency: self.emergency,
        }
    }
}

/// An ordered list of classifiers compiled into one matcher, with the
/// [`Normalizer`] that classification runs first. Cloning is cheap (shared).
///
/// When every pattern starts with `^` (Kazoo's lists do), the matcher is one
/// leftmost-first search over all the patterns: every match starts at 0, and
/// among matches at one start it prefers the earliest pattern, so it stops at
/// exactly the first classifier in order that matches. Otherwise it is a
/// [`regex::RegexSet`], whose lowest matching index is that classifier. Either
/// way one scan of the number decides.
///
/// ```
/// use number_manager::classify::Classifiers;
/// let json = serde_json::json!({
///     "emergency": {"regex": "^(911)$", "friendly_name": "Emergency Dispatcher"},
///     "did_us": {"regex": "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$", "friendly_name": "US DID",
///                "pretty_print": "SS(###) ### - ####"},
///     "unknown": "^(.*)$"
/// });
/// let set = Classifiers::from_json(&json).unwrap();
/// assert_eq!(set.classify("911").unwrap().name, "emergency");
/// assert_eq!(set.classify("(415) 555-1234").unwrap().name, "did_us");
/// assert_eq!(set.classify("*97").unwrap().friendly_name, "unknown");
/// assert_eq!(set.to_json(), Classifiers::from_json(&set.to_json()).unwrap().to_json());
/// ```
#[derive(Debug, Clone)]
pub struct Classifiers {
    inner: Arc<Compiled>,
    normalizer: Arc<Normalizer>,
}

#[derive(Debug)]
struct Compiled {
    list: Vec<Classifier>,
    matcher: Matcher,
    // Each pattern's hand-written decision, in list order, when every pattern
    // of the list has one; then the matcher is not consulted.
    known: Option<Vec<Known>>,
}

impl Compiled {
    fn new(list: Vec<Classifier>, matcher: Matcher) -> Self {
        let known = list.iter().map(|c| Known::recognize(&c.regex)).collect();
        Compiled {
            list,
            matcher,
            known,
        }
    }

    /// The first classifier in order whose pattern matches the string of
    /// `shape`, for a list decided by hand.
    fn first_of_shape(known: &[Known], shape: &Shape) -> Option<usize> {
        known.iter().position(|k| k.matches(shape))
    }

    /// The index of the first classifier in order that matches `normalized`.
    fn first(&self, normalized: &str) -> Option<usize> {
        match &self.known {
            Some(known) => Self::first_of_shape(known, &Shape::of(normalized.as_bytes())),
            None => self.matcher.first(normalized),
        }
    }
}

/// The compiled list: one automaton for all the patterns.
#[derive(Debug)]
enum Matcher {
    /// Every pattern can only match at the start of the input (it begins with
    /// `^`), so all matches start at 0, and a leftmost-first search, which
    /// prefers the lowest pattern among matches at the leftmost start, stops
    /// at exactly the first pattern in order that matches.
    FirstAnchored(MetaRegex),
    /// Some pattern may match further in: the set reports every pattern that
    /// matches anywhere, and the lowest index is the first in order.
    Set(RegexSet),
}

impl Matcher {
    fn compile(patterns: &[String]) -> std::result::Result<Matcher, String> {
        let anchored = patterns.iter().all(|p| {
            regex_automata::util::syntax::parse(p).is_ok_and(|hir| {
                hir.properties()
                    .look_set_prefix()
                    .contains(regex_syntax::hir::Look::Start)
            })
        });
        if anchored && !patterns.is_empty() {
            return MetaRegex::new_many(patterns)
                .map(Matcher::FirstAnchored)
                .map_err(|e| e.to_string());
        }
        RegexSet::new(patterns)
            .map(Matcher::Set)
            .map_err(|e| e.to_string())
    }

    /// The index of the first pattern in order that matches `haystack`.
    fn first(&self, haystack: &str) -> Option<usize> {
        match self {
            Matcher::FirstAnchored(re) => re
                .search(&regex_automata::Input::new(haystack))
                .map(|m| m.pattern().as_usize()),
            Matcher::Set(set) => set.matches(haystack).iter().next(),
        }
    }
}

// Kazoo's current default regexes.
const TOLLFREE_US: &str = r"^\+1((?:800|88\d|877|866|855|844|833|822)\d{7})$";
const TOLL_US: &str = r"^\+1(900\d{7})$";
const EMERGENCY: &str = r"^(911|922|933|833|811|711|999)$";
const CARIBBEAN: &str = concat!(
    r"^\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670",
    r"|787|939|869|758|784|721|868|649|340)\d{7})$",
);
const DID_US: &str = r"^(\+?1)?([2-9][0-9]{2}[2-9][0-9]{6})$";
const INTERNATIONAL: &str = r"^\+([2-9]\d{7,})$";
const UNKNOWN: &str = r"^(.*)$";

/// Kazoo's current default classifiers, in order.
fn kazoo_default_list() -> Vec<Classifier> {
    let nanp = |name: &str, regex: &str, friendly: &str| {
        Classifier::new(name, regex, friendly).with_pretty_print(NANP_FALLBACK_TEMPLATE)
    };
    vec![
        nanp("tollfree_us", TOLLFREE_US, "US TollFree"),
        nanp("toll_us", TOLL_US, "US Toll"),
        Classifier::new("emergency", EMERGENCY, "Emergency Dispatcher").with_emergency(true),
        nanp("caribbean", CARIBBEAN, "Caribbean"),
        nanp("did_us", DID_US, "US DID"),
        Classifier::new("international", INTERNATIONAL, "International"),
        Classifier::new("unknown", UNKNOWN, "Unknown"),
    ]
}

/// Why a list whose patterns all parse does not compile: the first rule that
/// is too large to compile on its own, or else the whole list's error.
fn compile_error(list: &[Classifier], combined: String) -> Error {
    for c in list {
        if let Err(reason) = ascii_rule(&c.regex) {
            return Error::validation(format!("classifiers.{}.regex", c.name), "pattern", reason);
        }
    }
    Error::validation(
        "classifiers",
        "pattern",
        format!("classifiers do not compile together: {combined}"),
    )
}

static KAZOO_DEFAULT: Lazy<Classifiers> = Lazy::new(|| {
    // The built-in patterns compile (tests prove it); an empty list is the
    // non-panicking stand-in should that ever break.
    Classifiers::new(kazoo_default_list()).unwrap_or_else(|_| Classifiers::empty())
});

impl Classifiers {
    /// Compiles an ordered list, classifying with the default [`Normalizer`].
    /// Fails on an invalid regex or a repeated name.
    pub fn new(list: Vec<Classifier>) -> Result<Self> {
        let mut patterns = Vec::with_capacity(list.len());
        let mut names = std::collections::HashSet::with_capacity(list.len());
        for c in &list {
            if !names.insert(c.name.as_str()) {
                return Err(Error::validation(
                    format!("classifiers.{}", c.name),
                    "unique",
                    "classifier names must be unique",
                ));
            }
            // Parsing is enough to pick each pattern's text; the one compile of
            // the whole list below reports a pattern that is too large.
            let pattern = ascii_pattern(&c.regex).map_err(|reason| {
                Error::validation(format!("classifiers.{}.regex", c.name), "pattern", reason)
            })?;
            patterns.push(pattern);
        }
        let matcher = Matcher::compile(&patterns).map_err(|e| compile_error(&list, e))?;
        Ok(Classifiers {
            inner: Arc::new(Compiled::new(list, matcher)),
            normalizer: default_normalizer(),
        })
    }

    fn empty() -> Self {
        Classifiers {
            inner: Arc::new(Compiled::new(Vec::new(), Matcher::Set(RegexSet::empty()))),
            normalizer: default_normalizer(),
        }
    }

    /// Kazoo's current default list: tollfree_us, toll_us, emergency, caribbean,
    /// did_us, international, unknown.
    pub fn kazoo_default() -> &'static Classifiers {
        &KAZOO_DEFAULT
    }

    /// Loads the `GET …/phone_numbers/classifiers` object shape, keeping key order.
    /// A bare string value is a legacy classifier (the regex; friendly name = key);
    /// a missing `friendly_name` is the key, a missing `regex` is `^$`.
    pub fn from_json(value: &Value) -> Result<Self> {
        let obj = value
            .as_object()
            .ok_or_else(|| Error::validation("classifiers", "type", "must be an object"))?;
        let list = obj
            .iter()
            .map(|(name, spec)| Classifier::from_json(name, spec))
            .collect::<Result<Vec<_>>>()?;
        Self::new(list)
    }

    /// The `GET …/phone_numbers/classifiers` object shape, in list order.
    pub fn to_json(&self) -> Value {
        Value::Object(self.iter().map(|c| (c.name.clone(), c.to_json())).collect())
    }

    /// The same classifiers, normalizing with `normalizer` (a host's own converters).
    pub fn with_normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = Arc::new(normalizer);
        self
    }

    /// The normalizer classification runs first.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// The classifiers, in order.
    pub fn list(&self) -> &[Classifier] {
        &self.inner.list
    }

    /// Iterates over the classifiers, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Classifier> {
        self.inner.list.iter()
    }

    /// How many classifiers there are.
    pub fn len(&self) -> usize {
        self.inner.list.len()
    }

    /// Whether there are none (then nothing classifies).
    pub fn is_empty(&self) -> bool {
        self.inner.list.is_empty()
    }

    /// The classifier with this name.
    pub fn get(&self, name: &str) -> Option<&Classifier> {
        self.iter().find(|c| c.name == name)
    }

    /// The first classifier whose regex matches `normalized`, which is matched
    /// as given (no normalization).
    pub fn first_match(&self, normalized: &str) -> Option<&Classifier> {
        let index = self.inner.first(normalized)?;
        self.inner.list.get(index)
    }

    /// Whether this list is classified by hand-written decisions rather than
    /// a regex automaton: true when every pattern is, to the byte, one of the
    /// default list's or the older published list's (in any order, with any
    /// names), or the `^$` of a classifier without a regex.
    ///
    /// ```
    /// use number_manager::classify::{Classifier, Classifiers};
    /// assert!(Classifiers::kazoo_default().is_decided_by_hand());
    /// let custom = Classifiers::new(vec![Classifier::new("sf", r"^\+1415\d{7}$", "SF")]).unwrap();
    /// assert!(!custom.is_decided_by_hand());
    /// ```
    pub fn is_decided_by_hand(&self) -> bool {
        self.inner.known.is_some()
    }

    /// Normalizes `raw` with this list's normalizer and returns the first
    /// classifier that matches the result: [`Classifiers::classify`] without
    /// building the [`Classification`]. With the default normalizer and a list
    /// decided by hand (see [`Classifiers::is_decided_by_hand`]) it is one pass
    /// over the input that allocates nothing.
    ///
    /// ```
    /// use number_manager::classify::Classifiers;
    /// let d = Classifiers::kazoo_default();
    /// assert_eq!(d.first_for("(800) 555-1212").unwrap().name, "tollfree_us");
    /// assert_eq!(d.first_for("tel:+44-20-7123-4567").unwrap().name, "international");
    /// ```
    pub fn first_for(&self, raw: &str) -> Option<&Classifier> {
        self.first_for_with(&self.normalizer, raw)
    }

    /// Like [`Classifiers::first_for`], normalizing with `normalizer` instead.
    pub fn first_for_with(&self, normalizer: &Normalizer, raw: &str) -> Option<&Classifier> {
        let index = match &self.inner.known {
            Some(known) => Compiled::first_of_shape(known, &normalizer.normalized_shape(raw)),
            None => self.inner.matcher.first(&normalizer.normalize(raw)),
        }?;
        self.inner.list.get(index)
    }

    /// Normalizes `raw` with this list's normalizer and classifies it.
    /// `None` when no classifier matches (never with a catch-all like `unknown`,
    /// except for input with a line break, which `.` does not match).
    pub fn classify<'a>(&'a self, raw: &'a str) -> Option<Classification<'a>> {
        self.classify_with(&self.normalizer, raw)
    }

    /// Like [`Classifiers::classify`], normalizing with `normalizer` instead.
    pub fn classify_with<'a>(
        &'a self,
        normalizer: &Normalizer,
        raw: &'a str,
    ) -> Option<Classification<'a>> {
        self.classify_normalized(raw, normalizer.normalize(raw))
    }

    /// Classifies a number normalized elsewhere (for example with an account's
    /// dial plan); `raw` is only reported back as `number`.
    pub fn classify_normalized<'a>(
        &'a self,
        raw: &'a str,
        normalized: Cow<'a, str>,
    ) -> Option<Classification<'a>> {
        let classifier = self.first_match(&normalized)?;
        Some(Classification::new(classifier, raw, normalized))
    }

    /// The template that formats `normalized`: the first matching
    /// classifier's, else [`NANP_FALLBACK_TEMPLATE`] for `+1` numbers, else none.
    pub fn template_for(&self, normalized: &str) -> Option<&str> {
        self.first_match(normalized)
            .and_then(|c| c.pretty_print.as_deref())
            .or_else(|| {
                normalized
                    .starts_with("+1")
                    .then_some(NANP_FALLBACK_TEMPLATE)
            })
    }

    /// Normalizes `raw` and formats it with [`Classifiers::template_for`]; without
    /// a template, `raw` comes back unchanged.
    pub fn pretty_print_number(&self, raw: &str) -> String {
        let normalized = self.normalizer.normalize(raw);
        match self.template_for(&normalized) {
            Some(template) => pretty_print(&normalized, template),
            None => raw.to_string(),
        }
    }
}

impl Default for Classifiers {
    /// Kazoo's current default list (a cheap shared clone of
    /// [`Classifiers::kazoo_default`]).
    fn default() -> Self {
        Self::kazoo_default().clone()
    }
}

impl<'a> IntoIterator for &'a Classifiers {
    type Item = &'a Classifier;
    type IntoIter = std::slice::Iter<'a, Classifier>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

fn default_normalizer() -> Arc<Normalizer> {
    static SHARED: Lazy<Arc<Normalizer>> =
        Lazy::new(|| Arc::new(Normalizer::kazoo_default().clone()));
    SHARED.clone()
}

/// Classifies `raw` with the default classifiers and normalizer.
///
/// ```
/// use number_manager::classify::classify;
/// assert_eq!(classify("+18005551212").unwrap().name, "tollfree_us");
/// assert!(classify("911").unwrap().emergency);
/// ```
pub fn classify(raw: &str) -> Option<Classification<'_>> {
    Classifiers::kazoo_default().classify(raw)
}

/// Formats `number` with the default classifiers' templates.
///
/// ```
/// assert_eq!(number_manager::classify::pretty_print_number("4155551234"), "(415) 555 - 1234");
/// assert_eq!(number_manager::classify::pretty_print_number("+442071234567"), "+442071234567");
/// ```
pub fn pretty_print_number(raw: &str) -> String {
    Classifiers::kazoo_default().pretty_print_number(raw)
}

/// Formats `number` with `template` (Kazoo's `pretty_print` language).
///
/// Left to right over the template: `S` skips the next character of the number,
/// `#` outputs it, `*` outputs the whole rest; `\` makes the next template
/// character literal (a trailing `\` is itself literal); anything else is copied.
/// Once the number is used up, `S`, `#` and `*` output nothing; literals still do.
///
/// ```
/// use number_manager::classify::pretty_print;
/// assert_eq!(pretty_print("+14155551234", "SS(###) ### - ####"), "(415) 555 - 1234");
/// assert_eq!(pretty_print("+14155551234", r"\#S#-*"), "#1-4155551234");
/// ```
pub fn pretty_print(number: &str, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + number.len());
    let mut digits = number.chars();
    let mut tokens = template.chars();
    while let Some(token) = tokens.next() {
        match token {
            'S' => {
                digits.next();
            }
            '#' => out.extend(digits.next()),
            '*' => out.extend(digits.by_ref()),
            '\\' => out.push(tokens.next().unwrap_or('\\')),
            literal => out.push(literal),
        }
    }
    out
}
