import DroverCore
import DroverStore
import Hummingbird

/// Schedules and limits (show only for now).
extension Dashboard {
  func schedules(_ request: Request) async throws -> Response {
    page(request, "schedules", title: "Schedules", [:])
  }
}
