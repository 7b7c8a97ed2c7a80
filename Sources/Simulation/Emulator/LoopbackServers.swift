import Hummingbird
import Logging
import ServiceLifecycle

/// Hummingbird routers served on one loopback address as one service group: the emulated vLLM
/// server, the routing sidecar and the endpoint picker all start this way.
struct LoopbackServers: Sendable {
    /// One listening port.
    struct Listener {
        var router: Router<BasicRequestContext>
        var port: Int
        /// The HTTP `Server` header.
        var name: String
    }

    let group: ServiceGroup
    /// Runs the group (and the work beside it) until it is shut down.
    let task: Task<Void, any Error>

    /// Starts every listener on `address` and returns once all of them are bound.
    ///
    /// - Parameters:
    ///   - alongside: work that runs while the servers do (a watch, a scrape loop); the first of
    ///     them or the servers to end ends the rest.
    ///   - onExit: runs once everything has ended (releasing what the servers used).
    /// - Throws: the first listener's bind error, after the rest are shut down.
    static func start(
        _ listeners: [Listener], address: String, logger: Logger,
        alongside: [@Sendable () async -> Void] = [], onExit: @escaping @Sendable () async -> Void = {}
    ) async throws -> LoopbackServers {
        let bound = AsyncStream<Result<Void, any Error>>.makeStream()
        let services = listeners.map { listener in
            ServiceGroupConfiguration.ServiceConfiguration(service: Application(
                router: listener.router,
                configuration: .init(address: .hostname(address, port: listener.port), serverName: listener.name),
                onServerRunning: { _ in bound.continuation.yield(.success(())) },
                logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await withThrowingTaskGroup(of: Void.self) { members in
                    members.addTask { try await group.run() }
                    for work in alongside { members.addTask { await work() } }
                    try await members.next()
                    members.cancelAll()
                }
            } catch {
                bound.continuation.yield(.failure(error))
                await onExit()
                throw error
            }
            await onExit()
        }
        var listening = 0
        for await outcome in bound.stream {
            do {
                try outcome.get()
            } catch {
                await group.triggerGracefulShutdown()
                _ = await task.result
                throw error
            }
            listening += 1
            if listening == listeners.count { break }
        }
        return LoopbackServers(group: group, task: task)
    }

    /// Stops accepting connections, lets open requests finish, and returns when all has ended.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }

    /// Stops gracefully, and cancels whatever is still open after `grace` (a request waiting on a
    /// prefill peer that went away), as the kubelet's SIGKILL would.
    func stop(grace: Duration) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        await withTaskGroup(of: Void.self) { deadline in
            deadline.addTask {
                guard (try? await Task.sleep(for: grace)) != nil else { return }
                task.cancel()
            }
            _ = await task.result
            deadline.cancelAll()
        }
    }
}
