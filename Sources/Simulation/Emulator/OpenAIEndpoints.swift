import AsyncHTTPClient
import Foundation
import Hummingbird
import KubeCore
import TandemAPI
import NIOCore

/// vLLM's OpenAI-compatible endpoints, answered from the emulated engine's timing.
///
/// Tokens are counted as whitespace-separated words (a stand-in for the model's tokenizer);
/// the text produced is a word per token. Non-streaming answers come when the engine finishes
/// the request; streams send a Server-Sent Event per token as the engine produces it.
struct OpenAIEndpoints: Sendable {
    let configuration: EmulatorConfiguration
    let driver: EngineDriver
    /// The server's own address, which a prefill names to its remote decode.
    let address: String

    func models() -> Response {
        let name = VLLMMetricsText.escape(configuration.servedModelName)
        return json(.ok, #"{"object":"list","data":[{"id":"\#(name)","object":"model","owned_by":"vllm","root":"\#(name)"}]}"#)
    }

    func metrics() async -> Response {
        let text = VLLMMetricsText.render(
            await driver.metrics(), modelName: configuration.servedModelName,
            cache: .init(blockSize: configuration.blockSize, numGPUBlocks: configuration.numGPUBlocks,
                         gpuMemoryUtilization: configuration.gpuMemoryUtilization))
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    func complete(_ request: Request, chat: Bool) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 << 20)
        guard let body = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView)) else {
            return error(.badRequest, "BadRequestError", "the body is not JSON")
        }
        let model = body["model"]?.stringValue ?? configuration.servedModelName
        guard model == configuration.servedModelName else {
            return error(.notFound, "NotFoundError", "The model `\(model)` does not exist.")
        }
        let prompt = Self.promptTokens(body, chat: chat)
        let promptTokens = prompt.count
        let maxTokens = Int(body["max_completion_tokens"]?.intValue ?? body["max_tokens"]?.intValue ?? 16)
        guard maxTokens >= 1 else { return error(.badRequest, "BadRequestError", "max_tokens must be at least 1") }
        let stream = body["stream"] == .bool(true)

        // Disaggregation: a decode server with a prefill peer sends long prompts there first.
        var uncached: Int?
        let transfer = body["kv_transfer_params"]
        if transfer?["do_remote_prefill"] == .bool(true) {
            // llm-d's routing sidecar had the prompt prefilled on a peer: the KV is pulled, only
            // the last token is computed here (vLLM's NIXL connector path).
            uncached = 1
        } else if configuration.role == .decode && configuration.routesToPrefillItself {
            // llm-d's rule counts the prompt's uncached tokens (prefix-cache hits need no prefill).
            let uncachedHere = promptTokens - (await driver.cachedTokens(prompt))
            var peer = request.headers[.init("x-prefiller-host-port")!]
            if peer == nil, uncachedHere >= configuration.disaggregationThreshold, let find = configuration.prefillPeers {
                peer = await find()
            }
            if uncachedHere >= configuration.disaggregationThreshold, let peer {
                try await Self.prefillRemotely(peer: peer, body: body, chat: chat)
                uncached = 1
            }
        }
        let progress = await driver.submit(prompt: prompt, uncachedPromptTokens: uncached, maxTokens: maxTokens, stream: stream)
        let id = "cmpl-\(UUID().uuidString.lowercased().prefix(12))"
        let created = Int(Date().timeIntervalSince1970)
        let object = chat ? "chat.completion" : "text_completion"
        if !stream {
            var produced = 0
            var reason = "length"
            for await step in progress {
                if case .finished(let tokens, let why) = step {
                    produced = tokens
                    reason = why.rawValue
                }
            }
            let text = Self.text(produced)
            let choice = chat
                ? #"{"index":0,"message":{"role":"assistant","content":"\#(text)"},"finish_reason":"\#(reason)","logprobs":null}"#
                : #"{"index":0,"text":"\#(text)","finish_reason":"\#(reason)","logprobs":null}"#
            // A prefill for a remote decode answers where its KV can be pulled from, as vLLM's
            // NIXL connector does (the side-channel port, VLLM_NIXL_SIDE_CHANNEL_PORT's default).
            let handoff = transfer?["do_remote_decode"] == .bool(true)
                ? #","kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,"remote_engine_id":"\#(id)","remote_block_ids":[],"remote_host":"\#(address)","remote_port":\#(KVTransferSpec.nixlSideChannelPort)}"#
                : ""
            return json(.ok, #"{"id":"\#(id)","object":"\#(object)","created":\#(created),"model":"\#(VLLMMetricsText.escape(model))","choices":[\#(choice)],"usage":{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(produced),"total_tokens":\#(promptTokens + produced)}\#(handoff)}"#)
        }
        let chunkObject = chat ? "chat.completion.chunk" : "text_completion"
        let modelText = VLLMMetricsText.escape(model)
        let events = ResponseBody { writer in
            var index = 0
            func send(_ payload: String) async throws {
                try await writer.write(ByteBuffer(string: "data: \(payload)\n\n"))
            }
            if chat {
                try await send(#"{"id":"\#(id)","object":"\#(chunkObject)","created":\#(created),"model":"\#(modelText)","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#)
            }
            for await step in progress {
                switch step {
                case .token:
                    let word = index == 0 ? "tok" : " tok"
                    index += 1
                    let delta = chat ? #""delta":{"content":"\#(word)"}"# : #""text":"\#(word)""#
                    try await send(#"{"id":"\#(id)","object":"\#(chunkObject)","created":\#(created),"model":"\#(modelText)","choices":[{"index":0,\#(delta),"finish_reason":null}]}"#)
                case .finished(let tokens, let why):
                    let delta = chat ? #""delta":{}"# : #""text":"""#
                    try await send(#"{"id":"\#(id)","object":"\#(chunkObject)","created":\#(created),"model":"\#(modelText)","choices":[{"index":0,\#(delta),"finish_reason":"\#(why.rawValue)"}],"usage":{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(tokens),"total_tokens":\#(promptTokens + tokens)}}"#)
                }
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: events)
    }


    /// Sends the prompt to the prefill peer with `max_tokens: 1` (its KV is then pulled), as
    /// llm-d's routing sidecar does, and returns the peer's `kv_transfer_params` (`nil` when it
    /// sent none). Only loopback peers are dialled.
    @discardableResult
    static func prefillRemotely(peer: String, body: JSONValue, chat: Bool) async throws -> JSONValue? {
        guard peer.hasPrefix("127."), let colon = peer.lastIndex(of: ":"), Int(peer[peer.index(after: colon)...]) != nil else {
            throw EmulatorError("refusing prefill peer \(peer): only 127.0.0.0/8 addresses are dialled here")
        }
        var prefill = body
        prefill["max_tokens"] = 1
        prefill["max_completion_tokens"] = nil
        prefill["stream"] = false
        prefill["stream_options"] = nil
        prefill["kv_transfer_params"] = ["do_remote_decode": true, "do_remote_prefill": false]
        var request = HTTPClientRequest(url: "http://\(peer)/v1/\(chat ? "chat/completions" : "completions")")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(prefill)))
        let response = try await Self.peers.execute(request, timeout: .seconds(600))
        let answer = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw EmulatorError("prefill peer \(peer) answered \(response.status.code)") }
        return (try? JSONDecoder().decode(JSONValue.self, from: Data(answer.readableBytesView)))?["kv_transfer_params"]
    }

    /// The prompt's tokens as the emulator counts them: whitespace-separated words; a chat's
    /// messages each add their words and a few template tokens (role markers), as chat
    /// templates do.
    static func promptTokens(_ body: JSONValue, chat: Bool) -> [Substring] {
        if chat {
            return (body["messages"]?.arrayValue ?? []).flatMap { message -> [Substring] in
                ["<|\(message["role"]?.stringValue ?? "user")|>", "<|", "|>", "\n"] + words(message["content"]?.stringValue ?? "")
            }
        } else if let list = body["prompt"]?.arrayValue {
            return list.flatMap { words($0.stringValue ?? "") }
        }
        return words(body["prompt"]?.stringValue ?? "")
    }

    /// The client of prefill peers: as many connections per peer as requests in flight (the
    /// shared client's 8 per host would queue prompts here instead of at the prefill server,
    /// hiding the prefill tier's queue). Lives as long as the process.
    static let peers = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(
            timeout: .init(connect: .seconds(5)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1024)))

    static func words(_ text: String) -> [Substring] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
    }

    static func text(_ tokens: Int) -> String {
        Array(repeating: "tok", count: tokens).joined(separator: " ")
    }

    func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    func error(_ status: HTTPResponse.Status, _ type: String, _ message: String) -> Response {
        json(status, #"{"object":"error","message":"\#(VLLMMetricsText.escape(message))","type":"\#(type)","param":null,"code":\#(status.code)}"#)
    }
}
