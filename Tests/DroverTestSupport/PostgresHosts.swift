import Foundation

/// Several "hosts" on one machine sharing one PostgreSQL server over the network: a
/// `TestNetwork` (a namespace per host, each joined to the database's namespace by a veth
/// link of its own), a throwaway cluster in the database's namespace, and one database on it.
/// A supervisor started with `shellPrefix(host:)` and configured with `url(forHost:)` lives in
/// host `n`'s namespace and reaches the server only over its own link (10.213.n.1).
///
/// The test process itself stays in its namespace: it reaches the server through the
/// cluster's Unix socket (`localURL`, `psql`) and the supervisors through their control
/// sockets (files), so it can enqueue and look while a host's link is cut.
///
/// Needs root and iproute2 (`TestNetwork.isAvailable`; a test gates on it with
/// `.enabled(if: TestNetwork.isAvailable, …)`). Everything goes when the object does.
public final class PostgresHosts {
  public let net: TestNetwork
  public let cluster: PostgresCluster
  /// The database's name on the cluster.
  public let name: String

  public init(hosts: Int, database name: String = "multi") throws {
    net = try TestNetwork(hosts: hosts)
    cluster = try PostgresCluster.inNamespace(net.database)
    self.name = name
    do {
      try cluster.psql(cluster.url(database: "postgres"), "CREATE DATABASE \(name)")
    } catch {
      cluster.stop()
      throw error
    }
  }

  deinit { cluster.stop() }

  /// The database as the test process reaches it (the cluster's Unix socket).
  public var localURL: String { cluster.url(database: name) }

  /// The database as host `n` (1-based) reaches it: over TCP through its own link.
  public func url(forHost n: Int) -> String {
    cluster.url(database: name, host: net.databaseAddress(forHost: n))
  }

  /// `SupervisorHarness.start(shellPrefix:)` code that runs the supervisor in host `n`.
  public func shellPrefix(host n: Int) -> String { net.shellPrefix(host: n) }

  /// Runs SQL on the database from the test process (psql, as an operator would).
  @discardableResult
  public func psql(_ sql: String) throws -> String { try cluster.psql(localURL, sql) }

  /// One number from a query.
  public func number(_ sql: String) throws -> Int {
    let text = try psql(sql)
    guard let n = Int(text) else { throw HarnessError("not a number from \(sql): \(text)") }
    return n
  }

  /// `count` jobs of `type` enqueued in one transaction by a plain INSERT (what an
  /// application does in its own transaction); `payload` is SQL for the payload's text, with
  /// `n` the job's number (0-based).
  public func insertJobs(_ count: Int, type: String, payload: String = "'{}'") throws {
    try psql(
      """
      INSERT INTO drover_jobs (type, payload)
      SELECT '\(type)', \(payload) FROM generate_series(0, \(count - 1)) AS n
      """)
  }
}

extension PostgresHosts {
  /// `drover ARGS --config …` of harness `h`, run in host `n`'s namespace (a CLI that opens
  /// the store itself reaches the server over that host's link, as on a real host).
  public func drover(_ h: SupervisorHarness, host n: Int, _ args: [String]) throws
    -> ProcessOutput
  {
    try ChildProcess.run(
      "/usr/sbin/ip",
      ["netns", "exec", net.hosts[n - 1], h.binary] + args + ["--config", h.configPath],
      environment: h.environment(), timeout: .seconds(60))
  }
}
