# tracemend's default patch policy. Every candidate fix is checked against it before
# verification; each `deny` message refuses the candidate and is recorded with it.
#
# Input (one candidate):
#   input.files[_]       {path, kind ("fix" | "test"), new_file, added, removed}
#   input.changed_lines  lines added + removed by the fix (the test not counted)
#   input.config         {max_changed_lines, allowed_paths (globs)}
#
# Extend it with rules of your own in the same package (`deny contains msg if {...}`),
# listed under `patch.policy.files`; set `patch.policy.default_policy: false` to replace it.
package tracemend.patch

import rego.v1

deny contains msg if {
	input.changed_lines > input.config.max_changed_lines
	msg := sprintf("the fix changes %d lines; the policy allows at most %d", [input.changed_lines, input.config.max_changed_lines])
}

deny contains msg if {
	some f in input.files
	not allowed_path(f.path)
	msg := sprintf("%s is outside the allowed paths %v", [f.path, input.config.allowed_paths])
}

allowed_path(path) if {
	some pattern in input.config.allowed_paths
	glob.match(pattern, [], path)
}

# Never touched by an automatic fix, whatever the allowed paths say.
protected := {
	"database migrations": `(^|/)(migrations?|alembic)/`,
	"authentication or authorization code": `(^|/)[^/]*(auth|login|permission|acl)[^/]*$`,
	"secrets or credentials": `(^|/)(\.env[^/]*|[^/]*(secret|credential|password|token)[^/]*|[^/]*\.(pem|key))$`,
	"CI configuration": `(^|/)(\.github|\.gitlab-ci\.yml|\.gitlab|\.circleci|Jenkinsfile|\.ci|azure-pipelines\.yml|\.buildkite)(/|$)`,
}

deny contains msg if {
	some f in input.files
	some what, pattern in protected
	regex.match(pattern, f.path)
	msg := sprintf("%s is %s, which automatic fixes never change", [f.path, what])
}

# Dependency manifests: a fix may not add or change dependencies.
dependency_manifest := `(^|/)(requirements[^/]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile(\.lock)?|poetry\.lock|package(-lock)?\.json|go\.(mod|sum)|Cargo\.(toml|lock))$`

deny contains msg if {
	some f in input.files
	regex.match(dependency_manifest, f.path)
	msg := sprintf("%s declares dependencies; a fix may not add or change them", [f.path])
}

deny contains msg if {
	some m in input.new_imports
	msg := sprintf("the fix imports %s, which the repository does not use yet", [m])
}

deny contains "the candidate adds no test; every fix must come with one" if {
	not test_added
}

test_added if {
	some f in input.files
	f.kind == "test"
	f.new_file
}
