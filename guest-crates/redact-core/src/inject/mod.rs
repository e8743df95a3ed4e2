//! Prompt-injection defusal for text that may later reach an LLM (log
//! bodies, exception messages). Text that impersonates a chat role, tells
//! the model to drop its instructions, addresses the model's answer,
//! smuggles a tool call or plants a markdown link that would send data to a
//! host when rendered is kept readable for a human but marked as quoted
//! data, and the record is flagged. Nothing is deleted: the message still
//! says what happened.
//!
//! Detection is two steps, both deterministic: [`normalize`] undoes the
//! disguises (case, look-alike and invisible characters, typographic
//! punctuation, markup, split strings), then [`signals`] adds up weak
//! signals to a score; at the threshold the text is defused. A cheap
//! keyword pass skips text that cannot score (most log lines).
//!
//! Measured on public attack corpora and real logs by
//! `tests/e2e/test_prompt_injection_corpus.py` (docs/redaction.md).

mod normalize;
mod signals;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

use signals::{Signals, THRESHOLD};

/// What was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `System:`, `Assistant:`, `<|im_start|>`, `[INST]`, `### Instruction:`, ...
    RoleMarker,
    /// "ignore previous instructions", "new system prompt", ...
    Override,
    /// Fenced or tagged tool/function calls, code to plant in an answer.
    ToolCall,
    /// Words addressed to the model: "your response", "can you reply", ...
    ModelDirective,
    /// Markdown images and links that carry data to a host when rendered.
    Exfiltration,
}

/// Every kind, in the order they are reported.
const KINDS: [Kind; 5] = [
    Kind::RoleMarker,
    Kind::Override,
    Kind::ToolCall,
    Kind::ModelDirective,
    Kind::Exfiltration,
];

impl Kind {
    /// The name used in the flag attribute.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RoleMarker => "role_marker",
            Kind::Override => "instruction_override",
            Kind::ToolCall => "tool_call",
            Kind::ModelDirective => "model_directive",
            Kind::Exfiltration => "exfiltration_link",
        }
    }
}

/// Words one of which every text that can reach the threshold contains
/// (each signal of weight two or more starts from one of them).
const ANCHORS: &[&str] = &[
    "<|",
    "[inst",
    "<<sys",
    "<sys",
    "</sys",
    "[system",
    "[user",
    "[assistant",
    "<end of",
    "##",
    "--",
    "ignore",
    "disregard",
    "forget",
    "override",
    "bypass",
    "stop everything",
    "nevermind",
    "prompt",
    "instruction",
    "your",
    "you",
    "as an ai",
    "language model",
    "llm",
    "ai model",
    "chain of thought",
    "invisible to",
    "automated",
    "note to",
    "code",
    "<tool",
    "</tool",
    "<function",
    "</function",
    "<invoke",
    "</invoke",
    "```",
    "![",
    "](",
    "encoded",
    "concatenate",
    "exfiltration",
    "password",
    "secret",
    "system",
    "assistant",
    "developer",
    "human",
    "user",
    "ai:",
    "bot:",
    "model:",
    "reply",
    "respond",
    "answer",
    "if ",
    "toxic",
    "discriminatory",
    "offensive",
    "harmful",
    "hateful",
    "racist",
    "sexist",
    "insulting",
    "unfriendly",
    "abusive",
];

/// The compiled defuser.
pub struct Defuser {
    anchors: AhoCorasick,
    signals: Signals,
    role: Regex,
    special: Regex,
    overrides: Regex,
    tool: Regex,
    link: Regex,
}

fn re(p: &str) -> Regex {
    RegexBuilder::new(p)
        .unicode(false)
        .build()
        .expect("built-in pattern compiles")
}

impl Default for Defuser {
    fn default() -> Self {
        Self::new()
    }
}

impl Defuser {
    /// Compiles the built-in patterns.
    pub fn new() -> Self {
        Defuser {
            anchors: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostFirst)
                .build(ANCHORS)
                .expect("keyword automaton from a literal list"),
            signals: Signals::new(),
            // The spans rewritten in the original text once it scores: at a
            // line start, after a sentence or clause ends, or inside a quote
            // or bracket, where an injected turn is glued onto the message.
            role: re(
                r#"(?im)(?:^|[.:;!?,]\s+|["'(\[>]\s*)[ \t>*#\-]*(system|assistant|developer|human|user)[ \t]*:"#,
            ),
            special: re(
                r"(?i)<\|[a-z_]{2,20}\|>|\[/?INST\]|<</?SYS>>|</?system>|\[system\]|<end of session>",
            ),
            overrides: re(
                r"(?i)\b(?:ignore|disregard|forget|override|bypass)\b(?:\s+\S+){0,4}?\s+(?:instructions?|prompts?|rules|guidelines|directions|directives|context|everything|all|above|previous|prior|earlier|preceding|the rest|info|information|them)\b(?:\s+(?:and\s+following|following|previous|prior|above|earlier|instructions?|prompts?|rules|guidelines|directions|messages|context))*|\byou\s+are\s+now\b|\bnew\s+(?:system\s+)?(?:instructions|prompt)\s*:?",
            ),
            tool: re(
                r"(?i)```[ \t]*(?:tool(?:_call|_code|_use)?|function(?:_call)?|json\s*\{\s*.(?:name|tool|function)\b)|</?(?:tool_call|tool_use|function_calls?|invoke)\b[^>]*>",
            ),
            link: re(r"!?\[([^\]\n]{0,100})\]\(\s*([^)\s]{1,2048})\s*\)"),
        }
    }

    /// Returns the defused text and the kinds found, or `None` when `text`
    /// needs nothing.
    pub fn defuse(&self, text: &str) -> Option<(String, Vec<Kind>)> {
        let score = if text.is_ascii() {
            self.anchors.find(text.as_bytes())?;
            self.signals.score(&normalize::normalize(text))
        } else {
            let norm = normalize::normalize(text);
            self.anchors.find(&norm)?;
            self.signals.score(&norm)
        };
        if score.total < THRESHOLD {
            return None;
        }
        let kinds = KINDS
            .into_iter()
            .filter(|k| score.kinds & (1 << *k as u8) != 0)
            .collect();
        Some((self.quote(text), kinds))
    }

    /// `text` with every span that would act on a model rewritten as
    /// labelled, quoted data; when no span is found in the original (the
    /// signals were disguised, or only the whole reads as an instruction),
    /// the whole text is quoted. Invisible characters are dropped.
    fn quote(&self, text: &str) -> String {
        let visible: String = text.chars().filter(|c| !normalize::invisible(*c)).collect();
        let b = visible.as_bytes();
        // (start, end, replacement)
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        for c in self.role.captures_iter(b) {
            if let Some(role) = c.get(1) {
                let end = c.get(0).map_or(role.end(), |m| m.end());
                edits.push((
                    role.start(),
                    end,
                    format!("[quoted {} label]:", lossy(role.as_bytes())),
                ));
            }
        }
        for m in self.special.find_iter(b) {
            let inner: String = lossy(m.as_bytes())
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            edits.push((m.start(), m.end(), format!("[quoted {inner} token]")));
        }
        for m in self.overrides.find_iter(b) {
            edits.push((
                m.start(),
                m.end(),
                format!("[quoted instruction: {}]", lossy(m.as_bytes())),
            ));
        }
        for m in self.tool.find_iter(b) {
            // Backtick fences become quotes, tags lose their angle brackets:
            // the content stays readable, no parser sees a call.
            let s = lossy(m.as_bytes())
                .replace("```", "'''")
                .replace('<', "[")
                .replace('>', "]");
            edits.push((m.start(), m.end(), format!("[quoted tool call] {s}")));
        }
        for c in self.link.captures_iter(b) {
            if let (Some(m), Some(label), Some(url)) = (c.get(0), c.get(1), c.get(2)) {
                // No renderer turns this back into a request.
                edits.push((
                    m.start(),
                    m.end(),
                    format!(
                        "[quoted link: {} <{}>]",
                        lossy(label.as_bytes()),
                        lossy(url.as_bytes())
                    ),
                ));
            }
        }
        if edits.is_empty() {
            return format!("[quoted instruction: {visible}]");
        }
        edits.sort_by_key(|e| e.0);
        let mut out = String::with_capacity(visible.len() + 32 * edits.len());
        let mut at = 0;
        for (s, e, r) in edits {
            if s < at {
                continue;
            }
            out.push_str(visible.get(at..s).unwrap_or(""));
            out.push_str(&r);
            at = e;
        }
        out.push_str(visible.get(at..).unwrap_or(""));
        out
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests;
