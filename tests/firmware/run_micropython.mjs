// Run a MicroPython test script under the real MicroPython interpreter (WebAssembly port).
//
//   node tests/firmware/run_micropython.mjs tests/firmware/mpy/test_protocol.py [more.py ...]
//
// The firmware package (firmware/vafa) and the helpers in tests/firmware/mpy/lib are copied
// into the interpreter's in-memory filesystem under /lib (on sys.path). VAFA_FIRMWARE_LIB
// names another directory to copy as /lib/vafa instead: bench/firmware.py passes the
// package compiled by mpy-cross (.mpy files are copied like .py ones). Each script runs in
// a fresh interpreter; the exit code is non-zero when any script raises.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname, basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");

function copyTree(FS, src, dst) {
  FS.mkdirTree(dst);
  for (const name of readdirSync(src)) {
    const s = join(src, name);
    const d = dst + "/" + name;
    const st = statSync(s);
    if (st.isDirectory()) {
      if (name !== "__pycache__") copyTree(FS, s, d);
    } else if (name.endsWith(".py") || name.endsWith(".mpy") || name.endsWith(".vft") || name.endsWith(".json")) {
      FS.writeFile(d, readFileSync(s));
    }
  }
}

async function runOne(script) {
  const out = [];
  const mp = await loadMicroPython({
    heapsize: 8 * 1024 * 1024,
    stdout: (line) => process.stdout.write(line + "\n"),
    stderr: (line) => process.stderr.write(line + "\n"),
  });
  copyTree(mp.FS, process.env.VAFA_FIRMWARE_LIB || join(root, "firmware", "vafa"), "/lib/vafa");
  copyTree(mp.FS, join(here, "mpy", "lib"), "/lib");
  // The loader (firmware/main.py), importable as `main` for the OTA tests.
  mp.FS.writeFile("/lib/main.py", readFileSync(join(root, "firmware", "main.py")));
  mp.FS.mkdirTree("/tmp");
  // A line "# --8<-- runPython" splits a script into parts run one after the other in the
  // same interpreter: this port's gc.collect() frees nothing while Python code is running,
  // only between runPython calls, so a heap measurement starts a new part.
  const parts = readFileSync(script, "utf8").split(/^# --8<-- runPython$/m);
  try {
    for (const part of parts) mp.runPython(part);
  } catch (e) {
    process.stderr.write(`FAIL ${basename(script)}: ${e && e.message ? e.message : e}\n`);
    return false;
  }
  process.stdout.write(`PASS ${basename(script)}\n`);
  return true;
}

const scripts = process.argv.slice(2);
if (scripts.length === 0) {
  process.stderr.write("usage: node run_micropython.mjs SCRIPT.py [SCRIPT.py ...]\n");
  process.exit(2);
}
let ok = true;
for (const s of scripts) {
  if (!(await runOne(s))) ok = false;
}
process.exit(ok ? 0 : 1);
