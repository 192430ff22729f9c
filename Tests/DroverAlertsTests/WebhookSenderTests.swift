import DroverCore
import DroverTestSupport
import Foundation
import Logging
import Testing

@testable import DroverAlerts

/// The sender against a real HTTP server on 127.0.0.1.
@Suite struct WebhookSenderTests {
  func fastOptions(capacity: Int = 1000) -> WebhookSender.Options {
    var o = WebhookSender.Options()
    o.capacity = capacity
    o.baseDelay = .milliseconds(20)
    o.maxDelay = .milliseconds(200)
    o.maxAttempts = 1000
    return o
  }

  func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ cond: () -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while !cond() {
      if ContinuousClock.now >= deadline { throw HarnessError("timed out waiting until \(what)") }
      SupervisorHarness.pause(.milliseconds(10))
    }
  }

  @Test func postsSignedJSON() throws {
    let r = try HTTPReceiver()
    let s = WebhookSender(
      urls: [r.url], secret: "k3y", options: fastOptions(), logger: Logger(label: "t"))
    s.start()
    defer { s.stop() }
    s.send(#"{"alert":"backlog"}"#)
    try waitUntil("delivered") { s.counts.delivered == 1 }
    let req = try #require(r.requests.first)
    #expect(req.method == "POST")
    #expect(req.path == "/hook")
    #expect(req.headers["content-type"] == "application/json")
    #expect(req.body == #"{"alert":"backlog"}"#)
    // RFC 4231 style check against an independent HMAC: `openssl dgst -hmac`.
    #expect(req.headers["x-drover-signature"] == HTTPReceiver.hmacSHA256Hex(req.body, key: "k3y"))
    #expect(
      WebhookSender.signature(of: "", secret: "key") == HTTPReceiver.hmacSHA256Hex("", key: "key"))
  }

  @Test func retriesAfterServerErrorsWithBackoff() throws {
    let r = try HTTPReceiver()
    r.answer([500, 502])
    let s = WebhookSender(
      urls: [r.url], secret: nil, options: fastOptions(), logger: Logger(label: "t"))
    s.start()
    defer { s.stop() }
    s.send("{\"n\":1}")
    try waitUntil("delivered after two failures") { s.counts.delivered == 1 }
    let reqs = r.requests
    #expect(reqs.count == 3)
    #expect(Set(reqs.map(\.body)) == ["{\"n\":1}"])
    #expect(s.counts.retries == 2)
    #expect(reqs[2].at - reqs[1].at >= .milliseconds(35), "the second wait doubles the first")
  }

  @Test func fullQueueDropsTheOldestAndCounts() throws {
    let r = try HTTPReceiver()
    r.refuse(true)
    let s = WebhookSender(
      urls: [r.url], secret: nil, options: fastOptions(capacity: 5), logger: Logger(label: "t"))
    s.start()
    defer { s.stop() }
    s.send("{\"n\":0}")
    // The first body is being retried: the queue behind it holds at most 5.
    try waitUntil("the first body is being tried") { !r.requests.isEmpty }
    for n in 1...20 { s.send("{\"n\":\(n)}") }
    #expect(s.counts.dropped == 15)
    r.refuse(false)
    try waitUntil("the kept bodies are delivered") { s.counts.delivered == 6 }
    let delivered = Set(r.requests.map(\.body))
    #expect(delivered == Set((["{\"n\":0}"] + (16...20).map { "{\"n\":\($0)}" })))
  }

  @Test func deadWebhookNeverBlocksSend() throws {
    // A port nobody listens on: every try is refused at once and retried.
    let s = WebhookSender(
      urls: ["http://127.0.0.1:9/"], secret: nil, options: fastOptions(capacity: 100),
      logger: Logger(label: "t"))
    s.start()
    defer { s.stop(grace: .zero) }
    let start = ContinuousClock.now
    for n in 0..<10_000 { s.send("{\"n\":\(n)}") }
    let took = ContinuousClock.now - start
    #expect(took < .seconds(5), "10,000 sends took \(took)")
    #expect(s.counts.dropped >= 9_800)
  }

  @Test func backoffDoublesUpToTheCap() {
    var o = WebhookSender.Options()
    o.baseDelay = .milliseconds(250)
    o.maxDelay = .seconds(2)
    let s = WebhookSender(urls: [], secret: nil, options: o, logger: Logger(label: "t"))
    defer { s.stop() }
    #expect(
      (1...6).map(s.backoff(after:)) == [
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(2), .seconds(2),
      ])
  }
}
