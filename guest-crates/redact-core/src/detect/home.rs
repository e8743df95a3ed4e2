//! User names in home-directory paths: `/home/alice/...`, `/Users/alice`,
//! `C:\Users\alice\...` (also with the doubled backslashes of JSON or a
//! string literal, and `file://` URLs). Only the user-name segment is the
//! match, so the rest of the path stays for debugging. Service accounts and
//! shared directories (`/home/app`, `/Users/Shared`, `C:\Users\Public`)
//! name no person and are left alone.

use super::{Detectors, HOME_USER, Match};

/// The directory prefix, not inside a longer path (`/api/users/42` is a
/// route: lowercase `users` after another segment); group 1 is the name.
pub(super) const PATTERN: &str = r#"(?:^|[^A-Za-z0-9_.\-/\\]|://)(?:/home/|/var/home/|/Users/|(?i:[a-z]:(?:\\\\|\\|/)users(?:\\\\|\\|/)))([A-Za-z0-9][A-Za-z0-9._\-]{0,31})"#;

/// Accounts that are not a person (compared lowercase).
const NOT_PEOPLE: &[&str] = &[
    "shared",
    "public",
    "default",
    "default user",
    "all users",
    "administrator",
    "admin",
    "app",
    "apps",
    "appuser",
    "application",
    "root",
    "user",
    "users",
    "guest",
    "nobody",
    "daemon",
    "www-data",
    "www",
    "ubuntu",
    "debian",
    "centos",
    "fedora",
    "ec2-user",
    "opc",
    "azureuser",
    "pi",
    "vagrant",
    "node",
    "runner",
    "runneradmin",
    "circleci",
    "jenkins",
    "travis",
    "git",
    "gitlab-runner",
    "build",
    "builder",
    "buildkite-agent",
    "docker",
    "deploy",
    "service",
    "svc",
    "postgres",
    "mysql",
    "redis",
    "nginx",
    "linuxbrew",
    "worker",
    "web",
    "site",
    "defaultapppool",
    "localservice",
    "networkservice",
    "systemprofile",
];

impl Detectors {
    #[inline(never)]
    pub(super) fn home_users(&self, text: &[u8], out: &mut Vec<Match>) {
        for c in self.home.captures_iter(text) {
            let Some(g) = c.get(1) else { continue };
            let name = g.as_bytes().to_ascii_lowercase();
            let name = name.strip_suffix(b".").unwrap_or(&name);
            if NOT_PEOPLE.iter().any(|n| n.as_bytes() == name)
                // A placeholder or a variable, not a name.
                || name.iter().all(u8::is_ascii_digit)
            {
                continue;
            }
            // A sentence's full stop is not part of the name.
            let end = if g.as_bytes().ends_with(b".") {
                g.end() - 1
            } else {
                g.end()
            };
            out.push(Match {
                start: g.start(),
                end,
                rule: HOME_USER,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Detectors;

    fn found(t: &str) -> Vec<String> {
        let d = Detectors::new(Vec::new(), &[], &[]);
        let mut out = Vec::new();
        d.home_users(t.as_bytes(), &mut out);
        out.iter().map(|m| t[m.start..m.end].to_owned()).collect()
    }

    #[test]
    fn only_the_user_segment() {
        assert_eq!(found("open /home/alice/app/config.yml"), ["alice"]);
        assert_eq!(found("at /Users/bob.smith"), ["bob.smith"]);
        assert_eq!(found(r"C:\Users\jdoe\AppData\x.log"), ["jdoe"]);
        assert_eq!(found(r#"{"path": "c:\\users\\jdoe\\x"}"#), ["jdoe"]);
        assert_eq!(found("file:///home/carol/x"), ["carol"]);
        assert_eq!(found("cwd=/home/dave."), ["dave"]);
        assert!(found("/home/app/ /Users/Shared C:\\Users\\Public\\x").is_empty());
        assert!(found("GET /api/users/42 and /v1/home/feed").is_empty());
        assert!(found("/home/linuxbrew/.linuxbrew/bin").is_empty());
    }
}
