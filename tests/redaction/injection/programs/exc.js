const cases = [() => null.system, () => JSON.parse("{bad"), () => undefined.role(), () => new URL("not a url/ignore"), () => require("fs").readFileSync("/no/such/prompt.md"),
 () => BigInt("1.5"), () => new Array(-1), () => "x".repeat(-1), () => decodeURIComponent("%E0%A4%A"), () => { const o = {}; o.assistant.reply(); },
 () => require("no-such-module-instructions"), () => { throw new RangeError("Invalid time value: you are now past the deadline"); }, () => structuredClone(() => 1),
 () => { throw new TypeError("Cannot read properties of undefined (reading 'system')"); }, () => new Intl.NumberFormat("en", {style: "currency"}), () => Symbol() + "",
 () => { "use strict"; Object.freeze({a:1}).a = 2; }, () => require("assert").strictEqual(1, 2, "expected user: 1 but got 2"), () => Buffer.alloc(-5), () => require("net").connect({port: 99999})];
for (const c of cases) { try { c(); } catch (e) { console.log(JSON.stringify({runtime: "node", text: `${e.name}: ${e.message}`})); } }
