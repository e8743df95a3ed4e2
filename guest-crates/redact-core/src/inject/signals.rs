//! Weak signals of an injection, scored on the normalized text: no one of
//! them is proof (a log line may well say `user: alice` or "your reply"),
//! but an instruction aimed at a model shows several, or one strong one.
//!
//! Each signal is a byte regex over lowercase ASCII with a weight and the
//! family it names. A text is an injection at [`THRESHOLD`]: one strong
//! signal (a special token, "ignore the previous instructions", a markdown
//! image pointing at a host), or weak ones together (a role marker followed
//! by words addressed to the model; an imperative and "your response").

use regex::bytes::{Regex, RegexBuilder};

use super::Kind;

/// The score at which a text is defused.
pub(crate) const THRESHOLD: u32 = 4;

/// One signal: a pattern, its weight, the family it names.
struct Signal {
    re: Regex,
    weight: u32,
    kind: Kind,
}

/// Where a new message or sentence may start: the text's or a line's
/// start, after a sentence or clause ends, or just inside a quote or
/// bracket (`value was 'SYSTEM: ...'`).
const START: &str = r#"(?:^|\n|[.;!?,:]\s|["'(\[>]\s*)"#;

/// Chat roles written as a speaker label.
const ROLES: &str = r"(?:system|assistant|developer|human|user|ai|bot|model)";

/// The signals and their weights.
const SIGNALS: &[(&str, u32, Kind)] = &[
    // Chat-template and separator tokens: nothing else writes these.
    (
        r"<\|[a-z_]{2,20}\|>|\[/?inst\]|<</?sys>>|</?system>|</?instructions?>|\[system\]|\[/?(?:user|assistant)\]|<end of session>",
        4,
        Kind::RoleMarker,
    ),
    // A markdown header or a ruled line that opens an instruction block.
    (
        r"(?m)^\s*#{2,}\s*(?:instructions?|system|response|new instructions|prompt)\b|--+\s*(?:core |new |legal )?(?:instructions?|amendment)\b",
        4,
        Kind::RoleMarker,
    ),
    // Telling the model to drop what it was told.
    (
        r"\b(?:ignore|disregard|forget|override|bypass)\b(?:\s+\S+){0,4}?\s+(?:instructions?|prompts?|rules|guidelines|directions|directives|context|everything|all|above|previous|prior|earlier|preceding|the rest|negative|info|information|them|what you)\b",
        4,
        Kind::Override,
    ),
    (
        r"\bstop everything\b|\bnevermind\b|\bnew (?:system )?(?:prompt|instructions|task|rules)\b|\bsystem prompt\b",
        3,
        Kind::Override,
    ),
    // Addressing the model and what it produces.
    (
        r"\byour (?:response|reply|answer|output|message|responses|replies|answers|code|implementation|algorithm|solution|codebase|program|elucidation)\b|\byou are (?:now|an? ai|chatgpt|a language model|an assistant)\b|\bas an ai\b|\blanguage model\b",
        3,
        Kind::ModelDirective,
    ),
    (
        r"\b(?:can|could|would|will) you (?:please )?(?:reply|respond|answer|repeat|print|say|translate|encode|use|provide|display|invert|substitute|classify|write|output)\b",
        4,
        Kind::ModelDirective,
    ),
    // "In your reply, ...": nothing but a model has a reply to shape.
    (
        r"\bin your (?:response|reply|answer|output)\b",
        4,
        Kind::ModelDirective,
    ),
    // Text written for a model reader, not for a person.
    (
        r"\b(?:invisible to humans|visible to (?:llms?|ai|models?)|hidden (?:competency|instructions?|prompt)|note (?:to|for) (?:the )?(?:ai|assistant|model|llm|automated)|automated (?:analysis|screening) (?:software|systems?|tools?))\b",
        4,
        Kind::ModelDirective,
    ),
    (
        r"\b(?:llm|ai model|chain of thought)\b",
        2,
        Kind::ModelDirective,
    ),
    // A conditional instruction to whoever answers questions about the text.
    (
        r"\bif (?:the )?(?:user |anyone |you are )?(?:asks?|asked|questioned)\b[^.\n]{0,40}?\b(?:reply|respond|answer|report|say|tell|output|print)\b",
        4,
        Kind::ModelDirective,
    ),
    // A request to generate harmful text.
    (
        r"\b(?:write|generate|produce|compose|output)\b[^.\n]{0,20}?\b(?:toxic|discriminatory|offensive|harmful|hateful|racist|sexist|insulting|unfriendly|abusive) (?:sentences?|text|statements?|comments?|messages?|paragraphs?|content|jokes?)\b",
        4,
        Kind::ModelDirective,
    ),
    // Code to be planted in the model's answer.
    (
        r"\b(?:following|below|subsequent) code (?:snippet|block|excerpt|section)\b",
        3,
        Kind::ToolCall,
    ),
    // Tool calls, function-call tags and fenced tool blocks.
    (
        r#"</?(?:tool_call|tool_use|function_calls?|invoke)\b|```\s*(?:tool|function)|\{\s*"(?:name|tool|function)"\s*:\s*"[^"]*"\s*,\s*"(?:arguments|parameters|input)""#,
        4,
        Kind::ToolCall,
    ),
    (r"```", 1, Kind::ToolCall),
    // Rendered markdown that sends data to a host: an image loads by itself.
    (
        r"!\[[^\]\n]{0,100}\]\(\s*(?:https?:)?//",
        4,
        Kind::Exfiltration,
    ),
    (
        r"\[[^\]\n]{0,100}\]\(\s*https?://[^)\s]*[?=]",
        3,
        Kind::Exfiltration,
    ),
    (
        r"\b(?:url|base64)[ -]?encoded\b|\bconcatenate these strings\b|\bdata exfiltration\b|\bpasswords? or secrets?\b",
        3,
        Kind::Exfiltration,
    ),
    // Urgency labels and imperatives at a sentence start: weak alone.
    (
        r"(?:^|\s)(?:important|critical|attention|urgent)\s*[:!]",
        1,
        Kind::ModelDirective,
    ),
];

/// Imperatives that open a sentence in an injected instruction.
const IMPERATIVES: &str = r"(?:add|include|integrate|modify|enhance|augment|insert|append|print|repeat|say|output|respond|reply|answer|translate|encode|write|render|provide|use|replace|reverse|remove|group|combine|rearrange|scramble|misspell|introduce|convert|substitute|express|anagram|shift|apply|encrypt|ensure|employ|incorporate|develop|merge|utilize|blend|leverage|consider|keep|validate|make|give|supplement|focus|concatenate|reveal|show|tell|summarize|mention|highlight|promote|visit|click|download|install|remember|upgrade|suggest|tease|jumble|share|join|don't|do not)";

/// The compiled signals.
pub(crate) struct Signals {
    table: Vec<Signal>,
    role: Regex,
    role_then_directive: Regex,
    reply_start: Regex,
    imperative: Regex,
}

fn re(p: &str) -> Regex {
    RegexBuilder::new(p)
        .unicode(false)
        .build()
        .expect("built-in pattern compiles")
}

/// The result of scoring one text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Score {
    /// Sum of the weights of the signals found.
    pub(crate) total: u32,
    /// The families found, a bit per [`Kind`] (`1 << kind as u8`).
    pub(crate) kinds: u8,
}

impl Score {
    fn add(&mut self, weight: u32, kind: Kind) {
        self.total += weight;
        self.kinds |= 1 << kind as u8;
    }
}

impl Signals {
    /// Compiles the built-in signals.
    pub(crate) fn new() -> Self {
        Signals {
            table: SIGNALS
                .iter()
                .map(|&(p, weight, kind)| Signal {
                    re: re(p),
                    weight,
                    kind,
                })
                .collect(),
            role: re(&format!(r"{START}[\s#>\-]*{ROLES}\s*:")),
            role_then_directive: re(&format!(
                r"{START}[\s#>\-]*{ROLES}\s*:[^\n]{{0,40}}?\b(?:you|your|ignore|forget|disregard|focus|print|repeat|respond|reply|answer|say|do not|don't|please|new|always|never|from now)\b"
            )),
            reply_start: re(&format!(
                r"{START}\s*(?:just |simply |now )?(?:reply|respond|answer)\s+(?:in|with|using|only|by)\b"
            )),
            imperative: re(&format!(
                r"{START}\s*(?:please |just |simply |now )?{IMPERATIVES}\b"
            )),
        }
    }

    /// Scores normalized text (see `normalize`).
    pub(crate) fn score(&self, norm: &[u8]) -> Score {
        let mut s = Score::default();
        for sig in &self.table {
            if sig.re.is_match(norm) {
                s.add(sig.weight, sig.kind);
            }
        }
        // A speaker label is weak (`user: alice logged in`); two, or one
        // followed by words addressed to the model, make a new turn.
        let roles = self.role.find_iter(norm).take(2).count();
        if roles > 0 {
            s.add(2, Kind::RoleMarker);
        }
        if roles > 1 || self.role_then_directive.is_match(norm) {
            s.add(2, Kind::RoleMarker);
        }
        if self.reply_start.is_match(norm) {
            s.add(4, Kind::ModelDirective);
        }
        if self.imperative.is_match(norm) {
            s.add(1, Kind::ModelDirective);
        }
        s
    }
}
