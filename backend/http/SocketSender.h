#pragma once

#include <QByteArray>
#include <atomic>
#include <memory>

// A thread that writes streaming responses' bytes into their sockets, so that the event loop
// only frames events: with thousands of live streams the send() calls (each one runs the
// loopback TCP stack) were the largest single cost of the event-loop thread.
//
// A response attaches its socket once Qt has nothing of it queued (the headers are out); from
// then on every byte goes through its channel, in order. The sender owns a dup() of the
// descriptor, so the connection stays open until the channel has written everything and is
// closed, even after Qt closed its own descriptor, and a reused descriptor number can never
// receive another client's bytes. A client that does not read keeps its bytes in the channel
// (pending() says how many); the event loop decides when to drop it. Channels are handed out
// while descriptors are plentiful (a quarter of the process's limit); past that attach()
// returns nullptr and the stream writes from the event loop itself.
//
//   auto sender = SocketSender::create();            // one per server; stop() when done
//   auto ch = sender->attach(socket->socketDescriptor());
//   ch->write(bytes);  ...  ch->close();              // close: after the last byte
class SocketSender : public std::enable_shared_from_this<SocketSender>
{
public:
    struct State;
    class Channel
    {
    public:
        Channel(std::shared_ptr<SocketSender> sender, std::shared_ptr<State> state);
        ~Channel(); // close()
        // trace: a HopTrace slot marked when the kernel has taken these bytes (-1: none).
        // skip: how many of them were sent already (by the event loop's own send()), so the
        // rest of a large batch is not copied to be queued.
        void write(const QByteArray &bytes, int trace = -1, qsizetype skip = 0);
        // Sends what is queued, then closes the connection. discard(): drops what is queued.
        void close();
        void discard();
        // Bytes written to the channel and not yet taken by the kernel.
        qint64 pending() const;
        // The connection was reset or broke: nothing more can be delivered.
        bool broken() const;

    private:
        std::shared_ptr<SocketSender> m_sender;
        std::shared_ptr<State> m_state;
        bool m_closed = false;
    };

    static std::shared_ptr<SocketSender> create();
    ~SocketSender();
    // A channel on a dup() of fd; nullptr when the descriptor cannot be duplicated.
    std::unique_ptr<Channel> attach(int fd);
    // Writes what can be written without waiting, closes every channel, ends the thread.
    // Channels used afterwards close their descriptor at once and drop what is written.
    void stop();

private:
    SocketSender();
    enum class Op { Write, Close, Discard };
    void post(const std::shared_ptr<State> &state, Op op, const QByteArray &bytes = {}, int trace = -1, qsizetype skip = 0);
    void run();
    struct Core;
    std::unique_ptr<Core> d;
};
