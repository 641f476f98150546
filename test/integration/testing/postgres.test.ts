import { existsSync } from "node:fs";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  findOrStartPostgres,
  findPostgresBinDir,
  startLocalPostgres,
} from "../../../src/testing/postgres.ts";
import { groupAlive } from "../../../src/testing/process.ts";
import { databaseUrl } from "../../support/postgres.ts";

async function selectOne(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query("SELECT 1 AS one")).rows[0];
  } finally {
    await client.end();
  }
}

describe("the run's PostgreSQL server", () => {
  it("answers queries", async () => {
    expect(await selectOne(databaseUrl())).toEqual({ one: 1 });
  });
});

describe("findOrStartPostgres", () => {
  it("starts a throwaway local server that answers, then leaves no process and no temp dir behind", async () => {
    const binDir = await findPostgresBinDir(process.env);
    if (binDir === undefined) return;
    const server = await startLocalPostgres({
      binDir,
      env: process.env,
      startTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
    });
    expect(await selectOne(server.url)).toEqual({ one: 1 });

    await server.stop();

    expect(groupAlive(server.pid)).toBe(false);
    expect(existsSync(server.dir)).toBe(false);
  });

  it("says how to get a server when no source has one", async () => {
    const error = await findOrStartPostgres({ sources: ["env"], env: {} }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: "WARREN_POSTGRES_NOT_FOUND" });
    expect((error as Error).message).toContain("export DATABASE_URL=");
    expect((error as Error).message).toContain("apt-get install postgresql");
  });
});
