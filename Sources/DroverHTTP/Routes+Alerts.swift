import DroverCore
import DroverStore
import DroverWire
import Hummingbird

/// `/alerts`: the alert history and its acknowledgements.
extension APIRoutes {
  /// `GET /alerts?open=true&limit=N`: newest first.
  func listAlerts(_ request: Request) async throws -> Response {
    let q = try RequestInput.query(request, known: ["open", "limit"])
    let open = try RequestInput.flag(q, "open")
    var limit = 100
    if let l = q["limit"] {
      guard let n = Int(l), (1...1000).contains(n) else {
        throw APIError.badRequest("limit must be an integer from 1 to 1000", field: "limit")
      }
      limit = n
    }
    let count = limit
    let records = try await link.read { store throws(StoreError) in
      try store.alerts(open: open, limit: count)
    }
    return JSONResponse.make(["alerts": .array(records.map(\.json))])
  }

  /// `POST /alerts/{id}/ack` with an optional `{"by": "name"}` (default `http`): it is not
  /// sent again until it resolves and fires anew.
  func ackAlert(_ request: Request, _ context: some RequestContext) async throws -> Response {
    guard let raw = context.parameters.get("id"), let id = Int64(raw), id >= 1 else {
      throw APIError.badRequest("the alert id must be a positive integer", field: "id")
    }
    var by = "http"
    // The body is optional: without a Content-Type there is none to read.
    if request.headers[.contentType] != nil {
      let (text, _) = try await RequestInput.body(
        request, limit: 64 << 10, types: ["application/json"])
      let v = text.allSatisfy(\.isWhitespace) ? JSONValue.object([]) : try RequestInput.json(text)
      if let b = v["by"], !b.isNull {
        guard let s = b.stringValue, !s.isEmpty, s.utf8.count <= 200 else {
          throw APIError.invalid(
            "\"by\" must be a non-empty string of at most 200 bytes", field: "by")
        }
        by = s
      }
    }
    let who = by
    do {
      let r = try await link.write { store throws(StoreError) in
        try store.ackAlert(id, by: who, at: .now())
      }
      return JSONResponse.make(r.json)
    } catch let e as StoreError where e.kind == .notFound {
      throw APIError.notFound(e.description)
    }
  }
}
