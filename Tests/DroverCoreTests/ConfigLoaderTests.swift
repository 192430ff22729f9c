import Testing

@testable import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

private let base = "/srv/app"

private func load(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws
  -> DroverConfig
{
  do {
    return try ConfigLoader.parse(text: text, file: "drover.toml", baseDirectory: base)
  } catch {
    Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation)
    throw error
  }
}

/// The error `text` gives, or nil (and a failed expectation) when it loads.
private func loadError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation)
  -> ConfigError?
{
  do {
    let c = try ConfigLoader.parse(text: text, file: "drover.toml", baseDirectory: base)
    Issue.record("expected an error, loaded \(c)", sourceLocation: sourceLocation)
    return nil
  } catch {
    return error
  }
}

@Suite struct ConfigLoaderTests {
  @Test func minimalConfigTakesTheDefaults() throws {
    let c = try load("[pools.email]\n")
    #expect(c.store == StoreConfig(path: "/srv/app/var/drover.db"))
    #expect(c.store.synchronous == .normal)
    #expect(c.store.retainCompleted == .seconds(7 * 86400))
    #expect(c.store.retainDead == .seconds(30 * 86400))
    #expect(c.store.url == nil)
    #expect(c.control.socket == "/srv/app/var/control.sock")
    #expect(c.http == nil)
    #expect(c.supervisor.drainTimeout == .seconds(30))
    #expect(c.sourcePath == nil)
    let p = try #require(c.pools.first)
    #expect(c.pools.count == 1)
    #expect(p.name == "email")
    #expect(p.types == ["email"])
    #expect(p.handler == "noop")
    #expect(p.command == [])
    #expect(p.min == 1)
    #expect(p.max == 4)
    #expect(p.idleTimeout == .seconds(30))
    #expect(p.concurrency == 1)
    #expect(p.timeout == .seconds(300))
    #expect(p.maxAttempts == 20)
    #expect(p.backoff == BackoffPolicy(base: .seconds(1), cap: .seconds(3600)))
    #expect(p.maxJobs == 0)
    #expect(p.maxRSS == 0)
    #expect(p == PoolConfig(name: "email"))
  }

  @Test func theContractExampleLoads() throws {
    let c = try load(
      """
      [store]
      path = "var/drover.db"            # SQLite file; created with its schema if missing
      synchronous = "full"
      retain_completed = "7d"
      retain_dead = "30d"
      url = "postgres://db.internal/drover"

      [control]
      socket = "run/../var/./control.sock"

      [http]                            # optional
      listen = "127.0.0.1:8080"
      token = "s3cret"

      [supervisor]
      drain_timeout = "45s"

      [pools.email]
      types = ["email", "email.digest"]
      handler = "exec"
      command = ["bin/send-mail", "--fast"]
      min = 2
      max = 8
      idle_timeout = "1m"
      concurrency = 4
      timeout = "90s"
      max_attempts = 5
      backoff = { base = "250ms", cap = "10m" }
      max_jobs = 1000
      max_rss = "512MiB"

      [pools.reports]
      handler = "ReportHandler"
      max_rss = 1048576
      """)
    #expect(
      c.store
        == StoreConfig(
          path: "/srv/app/var/drover.db", synchronous: .full, retainCompleted: .seconds(604_800),
          retainDead: .seconds(2_592_000), url: "postgres://db.internal/drover"))
    #expect(c.control.socket == "/srv/app/var/control.sock")
    #expect(c.http == HTTPConfig(listen: "127.0.0.1:8080", token: "s3cret"))
    #expect(c.supervisor.drainTimeout == .seconds(45))
    #expect(c.pools.map(\.name) == ["email", "reports"])
    #expect(
      c.pools[0]
        == PoolConfig(
          name: "email", types: ["email", "email.digest"], handler: "exec",
          command: ["/srv/app/bin/send-mail", "--fast"], min: 2, max: 8, idleTimeout: .seconds(60),
          concurrency: 4, timeout: .seconds(90), maxAttempts: 5,
          backoff: BackoffPolicy(base: .milliseconds(250), cap: .seconds(600)), maxJobs: 1000,
          maxRSS: 512 << 20))
    #expect(c.pools[1] == PoolConfig(name: "reports", handler: "ReportHandler", maxRSS: 1 << 20))
    #expect(c.pool(forType: "email.digest")?.name == "email")
  }

  @Test(arguments: badConfigs)
  func invalidConfigsNameKeyAndLine(_ bad: BadConfig) throws {
    let e = try #require(loadError(bad.text))
    #expect(e.file == "drover.toml")
    #expect(e.key == bad.key)
    #expect(e.line == bad.line)
    #expect(e.message == bad.message)
  }

  @Test func limitsReadTheirTableAndTheShortRateForm() throws {
    let c = try load(
      """
      [pools.email]
      concurrency_limit = { limit = 5, key = "account_id" }
      rate = { limit = 100, per = "1m", burst = 10, key = "account_id" }
      [pools.sms]
      rate = "5/s"
      [pools.plain]
      """)
    #expect(
      c.pools[0].limits
        == PoolLimits(
          pool: "email", types: ["email"], keyField: "account_id", concurrency: 5,
          rate: RateLimit(limit: 100, per: .seconds(60), burst: 10)))
    #expect(
      c.pools[1].limits
        == PoolLimits(pool: "sms", types: ["sms"], rate: RateLimit(limit: 5, per: .seconds(1))))
    #expect(c.pools[2].limits == nil)
  }

  @Test func errorDescriptionIsOneLine() throws {
    let e = try #require(loadError("[pools.email]\nmin = 5\nmax = 2\n"))
    #expect(e.description == "drover.toml:2: pools.email.min: min (5) is greater than max (2)")
  }

  @Test func maxDefaultsToMinWhenMinIsAboveFour() throws {
    #expect(try load("[pools.a]\nmin = 9").pools[0].max == 9)
    #expect(try load("[pools.a]\nmin = 0").pools[0].max == 4)
    #expect(try load("[pools.a]\nmin = 0\nmax = 1").pools[0].min == 0)
    #expect(try load("[pools.a]\nmax = 1").pools[0].min == 1)
    // An explicit max below the default min is the one case where min is implied too big.
    #expect(loadError("[pools.a]\nmax = 0")?.key == "pools.a.max")
  }

  @Test func backoffMayBeASubTableOrPartial() throws {
    let c = try load(
      """
      [pools.a]
      backoff = { base = "5s" }
      [pools.b]
      backoff = { cap = "2m" }
      [pools.c.backoff]
      base = "0"
      cap = "0"
      """)
    #expect(c.pools[0].backoff == BackoffPolicy(base: .seconds(5), cap: .seconds(3600)))
    #expect(c.pools[1].backoff == BackoffPolicy(base: .seconds(1), cap: .seconds(120)))
    #expect(c.pools[2].backoff == BackoffPolicy(base: .zero, cap: .zero))
    #expect(c.pools.map(\.name) == ["a", "b", "c"])
  }

  @Test func handlerNamesAreOpen() throws {
    let c = try load(
      """
      [pools.a]
      handler = "sleep"
      [pools.b]
      handler = "fail"
      [pools.c]
      handler = "crash"
      [pools.d]
      handler = "Billing.ChargeCard:v2"
      [pools."x-1.y_2:z"]
      types = ["T.a:b-c_d"]
      """)
    #expect(c.pools.map(\.handler) == ["sleep", "fail", "crash", "Billing.ChargeCard:v2", "noop"])
    #expect(c.pools[4].name == "x-1.y_2:z")
    #expect(c.pools[4].types == ["T.a:b-c_d"])
  }

  @Test func execCommandPaths() throws {
    let c = try load(
      """
      [pools.a]
      handler = "exec"
      command = ["python3", "job.py"]
      [pools.b]
      handler = "exec"
      command = ["./scripts/../bin/run", "./not-resolved"]
      [pools.c]
      handler = "exec"
      command = ["/usr/bin/env", "x"]
      """)
    #expect(c.pools[0].command == ["python3", "job.py"])
    #expect(c.pools[1].command == ["/srv/app/bin/run", "./not-resolved"])
    #expect(c.pools[2].command == ["/usr/bin/env", "x"])
  }

  @Test func pathsAreAbsoluteAndNormalized() throws {
    let c = try load(
      """
      [store]
      path = "../data//jobs.db"
      [control]
      socket = "/run/drover/./ctl.sock"
      [pools.a]
      """)
    #expect(c.store.path == "/srv/data/jobs.db")
    #expect(c.control.socket == "/run/drover/ctl.sock")
    let relativeBase = try ConfigLoader.parse(
      text: "[pools.a]", file: nil, baseDirectory: "conf/../etc")
    #expect(relativeBase.store.path.hasPrefix("/"))
    #expect(relativeBase.store.path.hasSuffix("/etc/var/drover.db"))
    #expect(ConfigLoader.absolutePath("../../x", relativeTo: "/a") == "/x")
    #expect(ConfigLoader.absolutePath("", relativeTo: "/a/b/") == "/a/b")
    #expect(ConfigLoader.parentDirectory(of: "/etc/drover.toml") == "/etc")
    #expect(ConfigLoader.parentDirectory(of: "/drover.toml") == "/")
  }

  @Test func controlSocketPathMustFitSunPath() throws {
    let long = String(repeating: "d", count: 100)
    let e = try #require(loadError("[control]\nsocket = \"\(long)/c.sock\"\n[pools.a]\n"))
    #expect(e.key == "control.socket")
    #expect(e.line == 2)
    #expect(e.message.hasSuffix("a Unix socket path can have at most 107"))
  }

  @Test(arguments: [
    ("127.0.0.1:8080", true), ("127.1.2.3:1", true), ("localhost:80", true),
    ("LocalHost:80", true), ("[::1]:8080", true), ("[0:0:0:0:0:0:0:1]:0", true),
    ("0.0.0.0:8080", false), ("10.0.0.1:80", false), ("[::]:80", false),
    ("128.0.0.1:80", false), ("127.0.0.256:80", false), ("127.0.0:80", false),
    ("localhost.example.com:80", false),
  ])
  func tokenIsRequiredOffLoopback(listen: String, loopback: Bool) throws {
    let text = "[http]\nlisten = \"\(listen)\"\n[pools.a]\n"
    if loopback {
      #expect(try load(text).http == HTTPConfig(listen: listen))
    } else {
      #expect(loadError(text)?.key == "http.token")
    }
    let tokened = try load("[http]\nlisten = \"\(listen)\"\ntoken = \"t\"\n[pools.a]\n")
    #expect(tokened.http == HTTPConfig(listen: listen, token: "t"))
    // A token file counts as a token; its path resolves against the config's folder.
    let filed = try load(
      "[http]\nlisten = \"\(listen)\"\ntoken_file = \"secret/t\"\nread_token = \"r\"\n[pools.a]\n")
    #expect(filed.http?.tokenFile?.hasSuffix("/secret/t") == true)
    #expect(filed.http?.tokenFile?.hasPrefix("/") == true)
    #expect(filed.http?.readToken == "r")
  }

  @Test func hostPortSplitting() {
    #expect(ConfigLoader.splitHostPort("a:1")! == ("a", 1))
    #expect(ConfigLoader.splitHostPort("[fe80::1]:65535")! == ("fe80::1", 65535))
    #expect(ConfigLoader.splitHostPort("a:0")! == ("a", 0))
    for bad in ["a", "a:", "a:x", "a:123456", "[::1]", "[::1]80", "[a]:80", "a b:80", ":80"] {
      #expect(ConfigLoader.splitHostPort(bad) == nil, "\(bad)")
    }
  }

  @Test func resolvePathFollowsTheContract() {
    #expect(
      ConfigLoader.resolvePath(explicit: "a.toml", environment: ["DROVER_CONFIG": "b"]) == "a.toml")
    #expect(
      ConfigLoader.resolvePath(explicit: nil, environment: ["DROVER_CONFIG": "/etc/d.toml"])
        == "/etc/d.toml")
    #expect(
      ConfigLoader.resolvePath(explicit: nil, environment: ["DROVER_CONFIG": ""]) == "./drover.toml"
    )
    #expect(ConfigLoader.resolvePath(explicit: nil, environment: [:]) == "./drover.toml")
  }

  @Test func loadReadsAFileAndResolvesAgainstItsFolder() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    try dir.write("conf/drover.toml", "[store]\npath = \"../db/j.db\"\n[pools.a]\n")
    let c = try ConfigLoader.load(path: dir.path + "/conf/./drover.toml")
    #expect(c.sourcePath == dir.path + "/conf/drover.toml")
    #expect(c.store.path == dir.path + "/db/j.db")
    #expect(c.control.socket == dir.path + "/conf/var/control.sock")
  }

  @Test func loadErrorsNameTheFileAsGiven() throws {
    let dir = try TempDir()
    defer { dir.remove() }
    let missing = dir.path + "/nope.toml"
    let e = try #require(loadFileError(missing))
    #expect(
      e.description
        == "\(missing): cannot read the config: No such file or directory (name the config with "
        + "--config PATH or $DROVER_CONFIG; the default is ./drover.toml)")

    #expect(loadFileError("")?.description == "the config path is empty")

    let isDir = try #require(loadFileError(dir.path))
    #expect(isDir.message == "cannot read the config: Is a directory")

    try dir.write("bad.toml", "[pools.a]\nmax = 0\n")
    let bad = try #require(loadFileError(dir.path + "/bad.toml"))
    #expect(
      bad.description == "\(dir.path)/bad.toml:2: pools.a.max: must be between 1 and 1024, got 0")

    try dir.write("latin1.toml", "[pools.a]\n# caf\u{E9}\n", bytes: [0x23, 0xE9, 0x0A])
    let latin1 = try #require(loadFileError(dir.path + "/latin1.toml"))
    #expect(latin1.line == 3)
    #expect(latin1.message == "not valid UTF-8")
  }
}

/// The error loading the file at `path` gives, or nil.
private func loadFileError(_ path: String) -> ConfigError? {
  do {
    _ = try ConfigLoader.load(path: path)
    return nil
  } catch {
    return error
  }
}

/// A scratch directory for file tests, removed by `remove()`.
private struct TempDir {
  let path: String

  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  init() throws {
    var template = Array("/tmp/drover-config-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed") }
    path = String(cString: p)
  }

  /// Writes `text` (then `bytes`) to `relative`, creating one level of folder as needed.
  func write(_ relative: String, _ text: String, bytes: [UInt8] = []) throws {
    let full = path + "/" + relative
    if let slash = relative.lastIndex(of: "/") {
      mkdir(path + "/" + relative[..<slash], 0o755)
    }
    let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw Failure(description: "cannot create \(full)") }
    defer { close(fd) }
    let all = Array(text.utf8) + bytes
    guard all.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == all.count else {
      throw Failure(description: "short write to \(full)")
    }
  }

  /// Removes the files tests put here (one folder deep) and the folder.
  func remove() {
    for name in ["conf/drover.toml", "bad.toml", "latin1.toml"] { unlink(path + "/" + name) }
    rmdir(path + "/conf")
    rmdir(path)
  }
}

/// `[store] url`, `heartbeat` and `lease` (PostgreSQL, several hosts).
@Suite struct StoreLeaseConfigTests {
  @Test func defaultsAndValues() throws {
    let d = try load("[pools.email]\n")
    #expect(d.store.heartbeat == .seconds(5))
    #expect(d.store.lease == .seconds(15))
    let c = try load(
      """
      [store]
      url = "postgres://drover@db/jobs"
      heartbeat = "1s"
      lease = "4s"
      [pools.email]
      """)
    #expect(c.store.url == "postgres://drover@db/jobs")
    #expect(c.store.heartbeat == .seconds(1))
    #expect(c.store.lease == .seconds(4))
    // A heartbeat at or above the default lease alone stretches the lease to 3×.
    #expect(try load("[store]\nheartbeat = \"20s\"\n[pools.email]\n").store.lease == .seconds(60))
  }

  @Test func aLeaseNotLongerThanTheHeartbeatIsRefused() {
    let e = loadError("[store]\nheartbeat = \"5s\"\nlease = \"5s\"\n[pools.email]\n")
    #expect(e.map { "\($0)".contains("store.lease") && "\($0)".contains("heartbeat") } == true)
    let tiny = loadError("[store]\nheartbeat = \"1ms\"\n[pools.email]\n")
    #expect(tiny.map { "\($0)".contains("store.heartbeat") } == true)
  }
}
