import NIOCore
import NIOPosix

/// The first handler of every client connection, on the raw (still encrypted) bytes: applies
/// connection-layer faults (latency, blackhole, reset) to everything the connection carries.
///
/// Bytes are never dropped: while held they queue here, each direction in order, and leave when
/// the blackhole ends (and their latency, counted from when they arrived, has passed). A reset
/// sets `SO_LINGER` to zero and closes from the head of the pipeline, below TLS, so the client
/// sees a TCP RST rather than a TLS close_notify.
final class ConnectionGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let core: ProxyCore
    private let connection: ConnectionState
    private var held = false
    private var latency: Duration = .zero
    private var inbound: [(bytes: ByteBuffer, due: NIODeadline, arrived: ContinuousClock.Instant)] = []
    private var inboundHead = 0
    private var outbound: [(bytes: ByteBuffer, promise: EventLoopPromise<Void>?, due: NIODeadline)] = []
    private var outboundHead = 0
    private var timer: Scheduled<Void>?
    private var aborted = false

    init(core: ProxyCore, connection: ConnectionState) {
        self.core = core
        self.connection = connection
    }

    private var shaping: Bool { held || latency > .zero }
    private var queuesEmpty: Bool { inboundHead == inbound.count && outboundHead == outbound.count }

    func channelActive(context: ChannelHandlerContext) {
        refresh(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !shaping && inboundHead == inbound.count {
            context.fireChannelRead(data)
            return
        }
        inbound.append((unwrapInboundIn(data), NIODeadline.now() + TimeAmount(latency), .now))
        drain(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !shaping && inboundHead == inbound.count { context.fireChannelReadComplete() }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !shaping && outboundHead == outbound.count {
            context.write(data, promise: promise)
            return
        }
        outbound.append((unwrapOutboundIn(data), promise, NIODeadline.now() + TimeAmount(latency)))
    }

    func flush(context: ChannelHandlerContext) {
        if outboundHead == outbound.count {
            context.flush()
        } else {
            drain(context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? GateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch event {
        case .reevaluate: refresh(context: context)
        case .abort: abort(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        for item in outbound[outboundHead...] { item.promise?.fail(ChannelError.ioOnClosedChannel) }
        outbound.removeAll()
        outboundHead = 0
    }

    private func refresh(context: ChannelHandlerContext) {
        let now = core.shaping(connection: connection)
        if now.reset != nil {
            abort(context: context)
            return
        }
        held = now.held
        latency = now.latency
        drain(context: context)
    }

    private func abort(context: ChannelHandlerContext) {
        guard !aborted else { return }
        aborted = true
        timer?.cancel()
        // l_onoff 1, l_linger 0: close() sends RST and discards unsent data.
        guard let provider = context.channel as? any SocketOptionProvider else {
            context.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Delivers what is due (nothing while held), then arms a timer for the next due item.
    private func drain(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        guard !held, !aborted else {
            connection.setHeld(inbound: inbound[inboundHead...].reduce(0) { $0 + $1.bytes.readableBytes },
                               outbound: outbound[outboundHead...].reduce(0) { $0 + $1.bytes.readableBytes })
            return
        }
        let now = NIODeadline.now()
        // One read (and read-complete) per held chunk, with its arrival noted on the connection,
        // so a request completed by a released chunk is recorded as arrived when that chunk did.
        while inboundHead < inbound.count, inbound[inboundHead].due <= now {
            let item = inbound[inboundHead]
            inboundHead += 1
            connection.setReleasedChunkArrival(item.arrived)
            context.fireChannelRead(wrapInboundOut(item.bytes))
            context.fireChannelReadComplete()
            connection.setReleasedChunkArrival(nil)
        }
        var wrote = false
        while outboundHead < outbound.count, outbound[outboundHead].due <= now {
            let item = outbound[outboundHead]
            outboundHead += 1
            context.write(wrapOutboundOut(item.bytes), promise: item.promise)
            wrote = true
        }
        if wrote { context.flush() }
        if inboundHead == inbound.count { inbound.removeAll(keepingCapacity: true); inboundHead = 0 }
        if outboundHead == outbound.count { outbound.removeAll(keepingCapacity: true); outboundHead = 0 }
        connection.setHeld(inbound: inbound[inboundHead...].reduce(0) { $0 + $1.bytes.readableBytes },
                           outbound: outbound[outboundHead...].reduce(0) { $0 + $1.bytes.readableBytes })
        let next = [inbound.dropFirst(inboundHead).first?.due, outbound.dropFirst(outboundHead).first?.due].compactMap { $0 }.min()
        if let next {
            timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [weak self] in
                guard let self else { return }
                self.drain(context: context)
            }
        }
    }
}
