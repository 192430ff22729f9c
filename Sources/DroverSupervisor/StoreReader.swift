import DroverCore
import DroverStore
import DroverSystem
import DroverWire

/// Reads that can be slow (lists, one job with its errors, later searches and dashboard
/// pages) run here, on a thread with its own read-only connection, never on the loop. Results
/// go back through the mailbox as `.readDone`.
final class StoreReader: Sendable {
  private let monitor = Monitor()
  // Guarded by `monitor`.
  nonisolated(unsafe) private var queue: [(token: Int, request: ControlRequest)] = []
  nonisolated(unsafe) private var stopped = false

  /// Starts the reader thread on `config`'s store (opened read-only on that thread).
  init(config: StoreConfig, mailbox: Mailbox) {
    startThread { [self] in
      var store: (any JobStore)?
      while let (token, request) = self.nextRequest() {
        if store == nil {
          store = try? StoreFactory.open(config, access: .readOnly)
        }
        let reply: ControlReply
        if let store {
          reply = Self.read(request, from: store)
        } else {
          reply = .failure("the store cannot be opened for reading")
        }
        mailbox.post(.readDone(token: token, reply))
      }
    }
  }

  /// Queues a read; its reply arrives in the mailbox under `token`.
  func submit(_ request: ControlRequest, token: Int) {
    monitor.locked {
      queue.append((token, request))
      monitor.broadcast()
    }
  }

  /// Ends the thread once the queue is empty.
  func stop() {
    monitor.locked {
      stopped = true
      monitor.broadcast()
    }
  }

  private func nextRequest() -> (Int, ControlRequest)? {
    monitor.locked {
      while queue.isEmpty && !stopped { monitor.wait() }
      guard !queue.isEmpty else { return nil }
      return queue.removeFirst()
    }
  }

  static func read(_ request: ControlRequest, from store: any JobStore) -> ControlReply {
    do throws(StoreError) {
      switch request {
      case .jobs(let state, let type, let limit):
        return .jobs(try store.list(ListParams(state: state, type: type, limit: limit)))
      case .job(let id):
        guard let job = try store.job(id) else { return .failure("no job with id \(id)") }
        return .job(job)
      default:
        return .failure("not a read request")
      }
    } catch {
      return .failure(error.description)
    }
  }
}
