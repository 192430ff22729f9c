import AsyncHTTPClient
import DroverCore

/// JSON POSTs for the HTTP channels (webhooks, Slack, PagerDuty): one client of its own, no
/// redirects, connect and read timeouts from the outbox options. Shut down with `shutdown`.
final class HTTPPoster: Sendable {
  let client: HTTPClient

  init(options: AlertOutbox.Options) {
    var config = HTTPClient.Configuration()
    config.timeout = .init(
      connect: .nanoseconds(options.connectTimeout.saturatingNanoseconds),
      read: .nanoseconds(options.requestTimeout.saturatingNanoseconds))
    config.redirectConfiguration = .disallow
    client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
  }

  /// One POST of `body` to `url`: delivered on 2xx; retried on a connection error, a 5xx, a
  /// 408 or a 429; `permanent` other 4xx answers are rejected (when false, retried too).
  func post(
    _ body: String, to url: String, headers: [(String, String)] = [], permanent4xx: Bool = false
  ) -> DeliveryOutcome {
    do {
      var r = try HTTPClient.Request(url: url, method: .POST)
      r.headers.add(name: "Content-Type", value: "application/json")
      r.headers.add(name: "User-Agent", value: "drover/\(DroverVersion.current)")
      for (name, value) in headers { r.headers.add(name: name, value: value) }
      r.body = .string(body)
      // The read timeout bounds a try: a server that stops answering fails it.
      let response = try client.execute(request: r).wait()
      let code = Int(response.status.code)
      if (200..<300).contains(code) { return .delivered }
      if permanent4xx, (400..<500).contains(code), code != 408, code != 429 {
        return .reject("HTTP \(code)")
      }
      return .retry("HTTP \(code)")
    } catch {
      return .retry("\(error)")
    }
  }

  func shutdown() { try? client.syncShutdown() }
}
