import DroverCore
import DroverSupervisor
import DroverWire
import Hummingbird
import NIOCore

/// `GET /ui/events`: the event bus as server-sent events.
extension Dashboard {
  /// One `event: NAME` / `data: JSON` message per lifecycle event (the JSON of `drover
  /// events`), a comment every 15 s so proxies and the browser keep the connection. The
  /// subscription is polled without blocking (a blocked thread per open page would starve
  /// the store reads of the small blocking pool); `?max=N` ends the stream after N events.
  /// The stream ends when the supervisor stops, so it never holds up a graceful shutdown.
  func events(_ request: Request) async throws -> Response {
    let max = request.uri.queryParameters["max"].flatMap { Int(String($0)) }
    let bus = link.events
    let probe = link.probe
    let body = ResponseBody { writer in
      let (sub, _) = bus.subscribe(capacity: 2000)
      defer { sub.close() }
      try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
      var sent = 0
      var quiet = 0
      streaming: while !Task.isCancelled && probe.state != .stopping {
        let batch = sub.next(timeout: .zero)
        if batch.isEmpty {
          quiet += 1
          if quiet >= 75 {
            quiet = 0
            try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
          }
          try await Task.sleep(for: .milliseconds(200))
          continue
        }
        quiet = 0
        var text = ""
        for e in batch {
          text += "event: \(e.name)\ndata: \(e.json.render())\n\n"
          sent += 1
          if let max, sent >= max {
            try await writer.write(ByteBuffer(string: text))
            break streaming
          }
        }
        try await writer.write(ByteBuffer(string: text))
      }
      try await writer.finish(nil)
    }
    return Response(
      status: .ok,
      headers: [
        .contentType: "text/event-stream", .cacheControl: "no-store",
      ], body: body)
  }
}
