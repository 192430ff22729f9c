import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Separate "hosts" on one machine: a network namespace for the database and one per host,
/// each host joined to the database by a veth pair of its own (10.213.N.2 on the host,
/// 10.213.N.1 on the database side), so a host's link can be cut and restored alone. Nothing
/// is bound or routed in this process's namespace.
///
/// Needs root and iproute2 (`isAvailable`). Everything is deleted when the object goes away;
/// namespaces left by a test process that died are deleted by the next one.
public final class TestNetwork: Sendable {
  /// The database's namespace.
  public let database: String
  /// The hosts' namespaces, host 1 first.
  public let hosts: [String]

  /// True when this process may create network namespaces (root, `ip netns` works).
  public static let isAvailable: Bool = {
    guard geteuid() == 0, access("/usr/sbin/ip", X_OK) == 0 else { return false }
    let probe = "drvprobe\(getpid())"
    guard (try? ip(["netns", "add", probe])) != nil else { return false }
    _ = try? ip(["netns", "del", probe])
    return true
  }()

  /// Creates the database namespace and `hosts` host namespaces with their links.
  public init(hosts count: Int) throws {
    Self.removeAbandoned()
    let prefix = "drv\(getpid())"
    database = prefix + "db"
    hosts = (1...count).map { "\(prefix)h\($0)" }
    do {
      try Self.ip(["netns", "add", database])
      try Self.ip(["-n", database, "link", "set", "lo", "up"])
      for (i, host) in hosts.enumerated() {
        let n = i + 1
        try Self.ip(["netns", "add", host])
        try Self.ip(["-n", host, "link", "set", "lo", "up"])
        try Self.ip([
          "link", "add", "vh\(n)", "netns", host, "type", "veth", "peer", "name", "vd\(n)",
          "netns", database,
        ])
        try Self.ip(["-n", host, "addr", "add", "10.213.\(n).2/24", "dev", "vh\(n)"])
        try Self.ip(["-n", database, "addr", "add", "10.213.\(n).1/24", "dev", "vd\(n)"])
        try Self.ip(["-n", host, "link", "set", "vh\(n)", "up"])
        try Self.ip(["-n", database, "link", "set", "vd\(n)", "up"])
      }
    } catch {
      removeAll()
      throw error
    }
  }

  deinit { removeAll() }

  /// The database's address as host `n` (1-based) reaches it.
  public func databaseAddress(forHost n: Int) -> String { "10.213.\(n).1" }

  /// Takes host `n`'s link down (its packets go nowhere; its connections hang, then fail).
  public func cut(host n: Int) throws {
    try Self.ip(["-n", hosts[n - 1], "link", "set", "vh\(n)", "down"])
  }

  /// Brings host `n`'s link back (with its address and route).
  public func restore(host n: Int) throws {
    try Self.ip(["-n", hosts[n - 1], "link", "set", "vh\(n)", "up"])
    _ = try? Self.ip(["-n", hosts[n - 1], "addr", "add", "10.213.\(n).2/24", "dev", "vh\(n)"])
  }

  /// Shell code for `SupervisorHarness.start(shellPrefix:)`: the supervisor runs in host `n`'s
  /// namespace (`ip netns exec` execs in place, so its pid is the supervisor's).
  public func shellPrefix(host n: Int) -> String {
    "exec /usr/sbin/ip netns exec \(hosts[n - 1]) \"$0\" \"$@\""
  }

  private func removeAll() {
    for ns in hosts + [database] { _ = try? Self.ip(["netns", "del", ns]) }
  }

  @discardableResult
  static func ip(_ args: [String]) throws -> String {
    let out = try ChildProcess.run("/usr/sbin/ip", args, timeout: .seconds(30))
    guard out.exitCode == 0 else {
      throw ChildProcessError("ip \(args.joined(separator: " ")) failed: \(out.stderrText)")
    }
    return out.stdoutText
  }

  /// Namespaces named after a test process that is gone.
  private static func removeAbandoned() {
    guard let list = try? ip(["netns", "list"]) else { return }
    for line in list.split(separator: "\n") {
      let name = String(line.split(separator: " ").first ?? "")
      guard name.hasPrefix("drv") else { continue }
      let digits = name.dropFirst(3).prefix { $0.isNumber }
      guard let pid = Int32(digits), pid != getpid() else { continue }
      if kill(pid, 0) != 0 && errno == ESRCH { _ = try? ip(["netns", "del", name]) }
    }
  }
}
