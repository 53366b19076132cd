import { describe, expect, it } from "vitest";
import { describeHosts, parseDatabaseHosts } from "../../src/db/hosts.js";

describe("libpq multi-host URLs", () => {
  it("leaves a single-host URL exactly as it is", () => {
    for (const url of [
      "postgres://app:pw@db:5432/tracker?sslmode=require",
      "postgres://app@/tracker?host=/var/run/postgresql",
      "postgres://app@db/tracker?target_session_attrs=read-write",
    ])
      expect(parseDatabaseHosts(url)).toEqual({ urls: [url], target: "any" });
  });

  it("splits hosts in the authority, keeping user, path and other parameters", () => {
    expect(
      parseDatabaseHosts(
        "postgres://app:p%40w@h1:5432,h2,[::1]:5434/tracker?sslmode=require&target_session_attrs=read-write",
      ),
    ).toEqual({
      urls: [
        "postgres://app:p%40w@h1:5432/tracker?sslmode=require",
        "postgres://app:p%40w@h2/tracker?sslmode=require",
        "postgres://app:p%40w@[::1]:5434/tracker?sslmode=require",
      ],
      target: "read-write",
    });
  });

  it("takes host= and port= lists, one port for all or one per host", () => {
    expect(
      parseDatabaseHosts("postgresql://app@/tracker?host=h1,h2&port=5432,5433&target_session_attrs=primary"),
    ).toEqual({
      urls: ["postgresql://app@h1:5432/tracker", "postgresql://app@h2:5433/tracker"],
      target: "read-write",
    });
    expect(parseDatabaseHosts("postgres://app@/tracker?host=h1,h2&port=6432").urls).toEqual([
      "postgres://app@h1:6432/tracker",
      "postgres://app@h2:6432/tracker",
    ]);
    expect(parseDatabaseHosts("postgres://h1,h2/tracker?target_session_attrs=any").target).toBe("any");
    expect(() => parseDatabaseHosts("postgres://app@/t?host=a,b,c&port=1,2")).toThrow("3 hosts but 2 ports");
  });

  it("refuses standby targets: tracker writes", () => {
    for (const attrs of ["read-only", "standby", "prefer-standby", "bogus"])
      expect(() => parseDatabaseHosts(`postgres://h1,h2/t?target_session_attrs=${attrs}`)).toThrow(
        `target_session_attrs=${attrs}: tracker writes`,
      );
  });

  it("takes standby targets for a replica, and refuses write targets there", () => {
    for (const attrs of ["any", "read-only", "standby", "prefer-standby"])
      expect(parseDatabaseHosts(`postgres://r1,r2/t?target_session_attrs=${attrs}`, "replica")).toEqual({
        urls: ["postgres://r1/t", "postgres://r2/t"],
        target: attrs,
      });
    for (const attrs of ["read-write", "primary", "bogus"])
      expect(() => parseDatabaseHosts(`postgres://r1,r2/t?target_session_attrs=${attrs}`, "replica")).toThrow(
        `target_session_attrs=${attrs}: a replica is only read`,
      );
  });

  it("names the hosts without the password", () => {
    expect(describeHosts("postgres://app:secret@h1,h2:5433/t")).toBe("h1:5432, h2:5433");
    expect(describeHosts("postgres://app:secret@db/t")).toBe("db:5432");
  });
});
