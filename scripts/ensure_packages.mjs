// Makes sure the Debian packages the tests start as real servers are installed: tinyproxy (HTTP
// and CONNECT proxy), squid (a proxy that keeps client connections alive), microsocks (SOCKS5)
// and openssl. When all are there it does nothing. Otherwise it installs the missing ones with
// apt-get (these test machines and CI run as root), or stops with a message saying what to
// install. Imported by scripts/test.mjs; runnable alone: `node scripts/ensure_packages.mjs`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

// [command, Debian package]
const needed = [
  ["tinyproxy", "tinyproxy"],
  ["squid", "squid"],
  ["microsocks", "microsocks"],
  ["openssl", "openssl"],
];

function found(command) {
  // /usr/sbin is not on every user's PATH, and squid lives there.
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  return dirs.some((dir) => dir !== "" && existsSync(join(dir, command)));
}

function fail(message) {
  console.error(`ensure_packages: ${message}`);
  process.exit(1);
}

const missing = needed.filter(([command]) => !found(command)).map(([, pkg]) => pkg);
if (missing.length > 0) {
  const list = missing.join(" ");
  const how = `install them with: apt-get install -y ${list}`;
  if (process.platform !== "linux" || !found("apt-get")) {
    fail(`the tests need ${list}, and there is no apt-get here; ${how} (or your system's own)`);
  }
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    fail(`the tests need ${list}; run the tests as root once, or ${how} (with sudo)`);
  }
  console.log(`ensure_packages: installing ${list} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update"], { stdio: "inherit", env });
  if (update.status !== 0) fail(`apt-get update failed (exit code ${update.status}); ${how}`);
  const install = spawnSync(
    "apt-get",
    ["install", "-y", "--no-install-recommends", ...missing],
    { stdio: "inherit", env },
  );
  if (install.status !== 0) fail(`apt-get install failed (exit code ${install.status}); ${how}`);
  const still = needed.filter(([command]) => !found(command)).map(([, pkg]) => pkg);
  if (still.length > 0) fail(`still missing after apt-get install: ${still.join(" ")}`);
}
