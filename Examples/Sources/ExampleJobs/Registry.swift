public import DroverWorker

/// Every handler of the app, with its per-worker setup: one place for the binary and tests.
public func exampleHandlers(mailer: any Mailer = LogMailer()) -> HandlerRegistry {
  var handlers = HandlerRegistry()
  handlers.register(SendEmail(mailer: mailer))
  handlers.register(ResizeImage())
  handlers.onWorkerStart { worker in
    // Open connection pools, warm caches: once per worker process, before its first job.
    worker.logger.info("worker ready", metadata: ["handler": "\(worker.handler)"])
  }
  return handlers
}
