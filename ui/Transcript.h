#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

// What a conversation has said so far, turn by turn, built from the `turn` and `message`
// events a StreamClient accepted (after duplicate filtering), in stream order. Pure; no I/O.
//
//   Transcript t;
//   t.beginTurn(R"({"turn":1,"prompt":"Plan 3 days in Lisbon"})");
//   t.appendMessage("Day 1: ...");
//   t.text();   // every turn's answer, concatenated
class Transcript
{
public:
    struct Turn
    {
        int number = 0;
        QString prompt;
        QString text;
    };

    // A `turn` event's data ({"turn":N,"prompt":"..."}) starts the next turn.
    const Turn &beginTurn(const QByteArray &data);
    // A `message` event's data; a message before any `turn` event opens turn 1 (no prompt).
    // Returns the chunk as text.
    QString appendMessage(const QByteArray &data);
    void clear() { m_turns.clear(); }

    static int turnNumber(const QByteArray &turnEventData); // 0 when the data names none
    int lastTurnNumber() const { return m_turns.isEmpty() ? 0 : m_turns.last().number; }
    const QList<Turn> &turns() const { return m_turns; }
    QString text() const;
    // The conversation as Markdown for the view: each turn headed by its prompt (escaped, on one
    // line), turns separated by a rule.
    static QString markdown(const QList<Turn> &turns);

private:
    QList<Turn> m_turns;
};
