//! The keyword-gated rules: each built-in's keywords, and the automaton
//! over them, the custom rules' keywords and the sensitive-key words that
//! gate `inline_secret`, walked once per string by the gating pass.

use aho_corasick::MatchKind;
use aho_corasick::dfa::DFA;

use super::{
    AWS_AK, AWS_SK, BASIC, BEARER, EMAIL, GITHUB, GITLAB, GOOGLE, HOME_USER, IMEI,
    IMEI_KEYWORD_BIT, INLINE, JWT, PASSWORD_TEXT, PRIVATE_KEY, SLACK, STRIPE, URL_PASSWORD, VENDOR,
};
use crate::keywords::KeywordTable;

/// Keywords that gate each keyword-gated built-in (case-insensitive).
const KEYWORDS: &[(usize, &[&str])] = &[
    (PRIVATE_KEY, &["PRIVATE KEY"]),
    (JWT, &["eyJ"]),
    (URL_PASSWORD, &["://"]),
    (BEARER, &["bearer"]),
    (BASIC, &["basic"]),
    (
        AWS_AK,
        &[
            "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA",
            "ASCA",
        ],
    ),
    (AWS_SK, &["aws", "secret"]),
    (
        GITHUB,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    ),
    (
        GITLAB,
        &[
            "glpat-", "gldt-", "glptt-", "glrt-", "glcbt-", "glimt-", "glsoat-", "glft-", "gloas-",
        ],
    ),
    (
        SLACK,
        &[
            "xoxa-",
            "xoxb-",
            "xoxp-",
            "xoxo-",
            "xoxs-",
            "xoxr-",
            "xoxe-",
            "hooks.slack.com",
        ],
    ),
    (
        STRIPE,
        &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"],
    ),
    (GOOGLE, &["AIza", "ya29.", "GOCSPX-"]),
    (
        VENDOR,
        &[
            "sk-proj-",
            "sk-svcacct-",
            "sk-admin-",
            "sk-ant-",
            "npm_",
            "pypi-",
            "SG.",
            "shpat_",
            "shpss_",
            "shpca_",
            "shppa_",
            "_v1_",
            "hvs.",
            "hvb.",
            "hf_",
            "dapi",
            "lin_api_",
            "PMAK-",
            "glsa_",
            "dp.",
            "pul-",
            "rubygems_",
        ],
    ),
    (EMAIL, &["@", "%40"]),
    (HOME_USER, &["/home/", "/users/", "\\users\\", ":/users/"]),
    (
        PASSWORD_TEXT,
        &[
            "password",
            "passwd",
            "pwd",
            "passphrase",
            "passcode",
            "pass phrase",
        ],
    ),
];

/// The keyword automaton over the built-ins' keywords, then
/// `custom_keywords` (each gating its rule), then `inline_words` (gating
/// `inline_secret`), and for each of its patterns the bit of the rule it
/// gates (bit = rule id).
pub(super) fn automaton(
    custom_keywords: &[(usize, Vec<String>)],
    inline_words: &[String],
) -> (KeywordTable, Vec<u128>) {
    let mut pats: Vec<String> = Vec::new();
    let mut ac_rule = Vec::new();
    for (rule, kws) in KEYWORDS {
        for k in *kws {
            pats.push((*k).to_owned());
            ac_rule.push(1u128 << rule);
        }
    }
    for k in super::phone_more::WORDS {
        pats.push((*k).to_owned());
        ac_rule.push(1u128 << super::PHONE_WORD_BIT);
    }
    // `imei` gates the IMEI rule and says the keyword form may match.
    pats.push("imei".to_owned());
    ac_rule.push(1u128 << IMEI | 1u128 << IMEI_KEYWORD_BIT);
    for (rule, kws) in custom_keywords {
        for k in kws {
            pats.push(k.clone());
            ac_rule.push(1u128 << rule);
        }
    }
    for w in inline_words {
        pats.push(w.clone());
        ac_rule.push(1u128 << INLINE);
    }
    // A full DFA, copied into the table `KeywordTable::hits` walks. No prefilter: with one-byte and short
    // common keywords (`@`, `key`, `set`) its candidates are everywhere,
    // and restarting it at each one cost more than the plain DFA walk.
    let ac = DFA::builder()
        .ascii_case_insensitive(true)
        .prefilter(false)
        .match_kind(MatchKind::Standard)
        .build(&pats)
        .expect("keyword automaton from bounded literal lists");
    (KeywordTable::new(&ac), ac_rule)
}

#[cfg(test)]
mod tests {
    use super::super::next;
    use super::*;

    /// The four-bytes-a-step walk reports exactly what the library's
    /// overlapping iterator reports, in the same order, on random text over
    /// the keywords' letters (so matches overlap and chain), every length
    /// around the step, with and without an empty keyword.
    #[test]
    fn keyword_walk_matches_the_library() {
        let mut pats: Vec<String> = KEYWORDS
            .iter()
            .flat_map(|(_, kws)| kws.iter().map(|k| (*k).to_owned()))
            .collect();
        let mut x = 0x1234_5678_9abc_def0u64;
        for empty in [false, true] {
            if empty {
                pats.push(String::new());
            }
            let dfa = DFA::builder()
                .ascii_case_insensitive(true)
                .prefilter(false)
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .unwrap();
            let lib = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .unwrap();
            let table = KeywordTable::new(&dfa);
            let alphabet: Vec<u8> = pats
                .iter()
                .flat_map(|p| p.bytes())
                .chain(*b" =:@x")
                .collect();
            for n in 0..400 {
                let len = n % 37;
                let text: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next(&mut x) % alphabet.len() as u64) as usize])
                    .collect();
                let want: Vec<(usize, usize)> = lib
                    .find_overlapping_iter(&text)
                    .map(|m| (m.pattern().as_usize(), m.end()))
                    .collect();
                let mut got = Vec::new();
                table.hits(&text, |p, e| got.push((p, e)));
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&text));
            }
        }
    }
}
