import Foundation
import Hummingbird
import KubeCore
import TandemAPI
import Logging
import NIOCore
import ServiceLifecycle

/// llm-d's routing sidecar, emulated: listens on the decode pod's serving port in front of the
/// vLLM server on `--vllm-port` (same address).
///
/// A completion that carries `x-prefiller-host-port` (set by the router when its prefill profile
/// ran) is first sent to that prefill server with `max_tokens: 1` and
/// `kv_transfer_params.do_remote_decode`, then to vLLM with the prefill's `kv_transfer_params`
/// (`do_remote_prefill: true`, `remote_host`, `remote_port`, …), so the decode server pulls the
/// KV instead of computing the prompt. Without the header the request goes to vLLM unchanged
/// (it prefills locally). `/metrics`, `/health`, `/v1/models` are passed through.
public final class EmulatedRoutingSidecar: Sendable {
    public let address: String
    public let spec: RoutingSidecarSpec
    private let servers: LoopbackServers

    /// The header llm-d's router sets to name the prefill pod.
    public static let prefillerHeader = "x-prefiller-host-port"

    private init(address: String, spec: RoutingSidecarSpec, servers: LoopbackServers) {
        self.address = address
        self.spec = spec
        self.servers = servers
    }

    /// Starts listening on `address:spec.port` and returns once the socket is bound.
    public static func start(_ spec: RoutingSidecarSpec, address: String,
                             logger: Logger = Logger(label: "tandem.routing-sidecar")) async throws -> EmulatedRoutingSidecar {
        let vllm = "\(address):\(spec.vllmPort)"
        let router = Router()
        for path in ["/v1/completions", "/v1/chat/completions"] {
            router.post(RouterPath(path)) { request, _ in
                try await complete(request, path: path, chat: path.contains("chat"), vllm: vllm, logger: logger)
            }
        }
        for path in ["/metrics", "/health", "/v1/models", "/version"] {
            router.get(RouterPath(path)) { _, _ in
                do {
                    return try await UpstreamProxy.forward(.get, path: path, body: nil, to: vllm, timeout: .seconds(30))
                } catch {
                    return UpstreamProxy.error(.badGateway, "vLLM at \(vllm) did not answer \(path): \(error)")
                }
            }
        }
        let servers = try await LoopbackServers.start(
            [.init(router: router, port: spec.port, name: "tandem-routing-sidecar")], address: address, logger: logger)
        return EmulatedRoutingSidecar(address: address, spec: spec, servers: servers)
    }

    static func complete(_ request: Request, path: String, chat: Bool, vllm: String, logger: Logger) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 << 20)
        guard let peer = request.headers[.init(prefillerHeader)!], !peer.isEmpty else {
            return try await forwardOrFail(path, buffer, vllm)
        }
        guard var body = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView)) else {
            return UpstreamProxy.error(.badRequest, "the body is not JSON")
        }
        let transfer: JSONValue?
        do {
            transfer = try await OpenAIEndpoints.prefillRemotely(peer: peer, body: body, chat: chat)
        } catch {
            logger.warning("prefill on \(peer) failed: \(error)")
            return UpstreamProxy.error(.badGateway, "prefill on \(peer) failed: \(error)")
        }
        let colon = peer.lastIndex(of: ":") ?? peer.endIndex
        var params = transfer ?? [:]
        params["do_remote_prefill"] = true
        params["do_remote_decode"] = false
        if params["remote_host"] == nil { params["remote_host"] = .string(String(peer[..<colon])) }
        if params["remote_port"] == nil { params["remote_port"] = .int(Int64(KVTransferSpec.nixlSideChannelPort)) }
        body["kv_transfer_params"] = params
        return try await forwardOrFail(path, ByteBuffer(bytes: try JSONEncoder().encode(body)), vllm)
    }

    static func forwardOrFail(_ path: String, _ body: ByteBuffer, _ vllm: String) async throws -> Response {
        do {
            return try await UpstreamProxy.forward(.post, path: path, body: body, to: vllm)
        } catch {
            return UpstreamProxy.error(.badGateway, "vLLM at \(vllm) did not answer: \(error)")
        }
    }

    /// Stops accepting connections, lets open requests finish, returns when closed.
    public func stop() async {
        await servers.stop()
    }

    /// Stops gracefully, and cancels what is still open after `grace`, as the kubelet's SIGKILL would.
    public func stop(grace: Duration) async {
        await servers.stop(grace: grace)
    }
}
