public import DroverCore
public import DroverSystem

/// The HTTP API of the harness's supervisor: a config with `[http]` on 127.0.0.1 port 0, the
/// port the supervisor actually bound (from its "http listening on" line), and requests.
extension SupervisorHarness {
  /// An `[http]` table on a free loopback port, with these extra lines (`token = "…"`).
  public static func httpTable(_ lines: String...) -> String {
    "[http]\nlisten = \"127.0.0.1:0\"\n" + lines.joined(separator: "\n") + "\n"
  }

  /// The port `serve` bound, from its log (waits for the line).
  public func httpPort(timeout: Duration = .seconds(10)) throws -> Int {
    var port: Int?
    try waitUntil("the supervisor logs its HTTP address", timeout: timeout) {
      guard let r = log().range(of: "http listening on 127.0.0.1:") else { return false }
      port = Int(log()[r.upperBound...].prefix { $0.isNumber })
      return port != nil
    }
    return port!
  }

  /// A keep-alive client of the supervisor's HTTP API.
  public func httpClient() throws -> LoopbackHTTPClient {
    LoopbackHTTPClient(port: try httpPort())
  }
}

extension LoopbackHTTPClient.Reply {
  /// The body parsed as JSON (the project's parser).
  public func json() throws -> JSONValue { try JSONValue.parse(text) }
}

extension LoopbackHTTPClient {
  /// `GET path` with an optional bearer token.
  public func get(_ path: String, token: String? = nil) throws -> Reply {
    try request("GET", path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [])
  }

  /// `POST path` with a JSON (or other `contentType`) body and an optional bearer token.
  public func post(
    _ path: String, _ body: String = "", contentType: String? = "application/json",
    token: String? = nil
  ) throws -> Reply {
    var h: [(String, String)] = []
    if let contentType { h.append(("Content-Type", contentType)) }
    if let token { h.append(("Authorization", "Bearer \(token)")) }
    return try request("POST", path, headers: h, body: body)
  }

  /// The value of one sample line of a Prometheus scrape (`name{labels}` exactly as the line
  /// starts), or nil.
  public func metric(_ sample: String, token: String? = nil) throws -> Double? {
    let text = try get("/metrics", token: token).text
    for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
      return Double(line.dropFirst(sample.count + 1))
    }
    return nil
  }
}
