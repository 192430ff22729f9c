import DroverCore
import DroverStore
import Hummingbird
import NIOCore

/// A refused request: its status and `{"error": …, "field": …}` (CONTRACT.md, "HTTP API").
/// Every bad input becomes one of these (a 4xx), never a 500.
struct APIError: Error, Sendable {
  var status: HTTPResponse.Status
  var message: String
  /// The body or query field at fault, when one is.
  var field: String?
  /// Extra headers (`WWW-Authenticate` on a 401).
  var headers: HTTPFields = [:]

  init(_ status: HTTPResponse.Status, _ message: String, field: String? = nil) {
    self.status = status
    self.message = message
    self.field = field
  }

  static func badRequest(_ m: String, field: String? = nil) -> APIError {
    APIError(.badRequest, m, field: field)
  }
  static func invalid(_ m: String, field: String? = nil) -> APIError {
    APIError(.unprocessableContent, m, field: field)
  }
  static func notFound(_ m: String) -> APIError { APIError(.notFound, m) }

  /// A store error as the HTTP status of its kind: not found 404, conflicts 409, bad input
  /// 422, a busy store 503; the rest are the server's trouble (500).
  init(_ e: StoreError) {
    let status: HTTPResponse.Status =
      switch e.kind {
      case .notFound: .notFound
      case .conflict: .conflict
      case .invalidInput: .unprocessableContent
      case .busy, .unavailable, .full, .readOnly: .serviceUnavailable
      case .corrupt: .internalServerError
      }
    self.init(status, e.description)
  }

  var response: Response {
    var f: [JSONField] = [JSONField("error", .string(message))]
    if let field { f.append(JSONField("field", .string(field))) }
    var r = JSONResponse.make(.object(f), status: status)
    for h in headers { r.headers.append(h) }
    return r
  }
}

/// JSON replies.
enum JSONResponse {
  static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    text(value.render() + "\n", status: status, contentType: "application/json")
  }

  static func text(_ s: String, status: HTTPResponse.Status = .ok, contentType: String)
    -> Response
  {
    Response(
      status: status, headers: [.contentType: contentType],
      body: ResponseBody(byteBuffer: ByteBuffer(string: s)))
  }
}

/// Turns every error into the JSON error shape: ours keep their status, Hummingbird's (no such
/// route 404, 405) keep theirs, anything else is a 500 that does not leak internals.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let e as APIError {
      if Dashboard.isPage(request) { return Dashboard.errorPage(e) }
      return e.response
    } catch let e as HTTPError {
      let message =
        e.status == .notFound
        ? "no route \(request.method.rawValue) \(request.uri.path)" : (e.body ?? "\(e.status)")
      return APIError(e.status, message).response
    } catch {
      context.logger.error("HTTP request failed: \(error)")
      return APIError(.internalServerError, "internal error").response
    }
  }
}
