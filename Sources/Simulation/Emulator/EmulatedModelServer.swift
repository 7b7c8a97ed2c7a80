import Foundation
import KubeCore
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// What an emulated model server serves, read from its pod (or the `tandem emulate` flags).
public struct EmulatorConfiguration: Sendable {
    /// The name clients use (`--served-model-name`, else `--model`).
    public var servedModelName: String
    /// `prefill`, `decode` or `both` (llm-d's `llm-d.ai/role`).
    public var role: String
    /// The server's vLLM arguments, as the pod gives them.
    public var args: [String]

    public init(servedModelName: String, role: String = "both", args: [String] = []) {
        self.servedModelName = servedModelName
        self.role = role
        self.args = args
    }
}

/// An emulated vLLM server listening on one loopback address: `/health`, `/v1/models` and the
/// OpenAI endpoints of vLLM's API server, on the port the pod names `metrics`.
public final class EmulatedModelServer: ModelServerHandle {
    public let configuration: EmulatorConfiguration
    public let address: String
    public let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(configuration: EmulatorConfiguration, address: String, port: Int, task: Task<Void, any Error>,
                 group: ServiceGroup) {
        self.configuration = configuration
        self.address = address
        self.port = port
        self.task = task
        self.group = group
    }

    /// Starts listening on `address:port` and returns once the socket is bound.
    public static func start(_ configuration: EmulatorConfiguration, address: String, port: Int,
                             logger: Logger = Logger(label: "tandem.emulator")) async throws -> EmulatedModelServer {
        let router = Router()
        router.get("/health") { _, _ in Response(status: .ok) }
        router.get("/v1/models") { _, _ in
            let body = #"{"object":"list","data":[{"id":"\#(configuration.servedModelName)","object":"model","owned_by":"vllm","root":"\#(configuration.servedModelName)"}]}"#
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        let bound = AsyncStream<Result<Void, any Error>>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(address, port: port), serverName: "tandem-emulator"),
            onServerRunning: { _ in bound.continuation.yield(.success(())) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await group.run()
            } catch {
                bound.continuation.yield(.failure(error))
                throw error
            }
        }
        for await outcome in bound.stream {
            try outcome.get()
            break
        }
        return EmulatedModelServer(configuration: configuration, address: address, port: port, task: task, group: group)
    }

    /// Stops accepting connections, lets open requests finish, and returns when closed.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}

/// Starts an ``EmulatedModelServer`` for each model-server pod (the node agent's runtime).
public struct EmulatorLauncher: ModelServerLauncher {
    public init() {}

    public func start(pod: Pod, address: String, port: Int) async throws -> any ModelServerHandle {
        let container = pod.spec?.containers?.first { $0.name == "vllm" } ?? pod.spec?.containers?.first
        let args = container?.args ?? []
        func flag(_ name: String) -> String? {
            for (index, argument) in args.enumerated() {
                if argument.hasPrefix(name + "=") { return String(argument.dropFirst(name.count + 1)) }
                if argument == name, index + 1 < args.count { return args[index + 1] }
            }
            return nil
        }
        let model = flag("--served-model-name") ?? flag("--model") ?? "model"
        let role = pod.metadata.labels?["llm-d.ai/role"] ?? "both"
        return try await EmulatedModelServer.start(
            EmulatorConfiguration(servedModelName: model, role: role, args: args), address: address, port: port)
    }
}
