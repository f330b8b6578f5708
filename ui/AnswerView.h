#pragma once

#include <QTextBrowser>

// Shows the live answer as rendered Markdown. showMarkdown() re-renders the whole document
// (markdown cannot be appended to incrementally: a later chunk can close an earlier list or
// code block) without flicker and without stealing the scroll position: the view follows the
// bottom while the user is at the bottom, and stays put once the user scrolled up.
// The caller throttles; lastRenderMs() tells it how expensive a render is.
class AnswerView : public QTextBrowser
{
    Q_OBJECT
public:
    explicit AnswerView(QWidget *parent = nullptr);

    void showMarkdown(const QString &markdown);
    void showPlaceholder(const QString &html);
    QString markdown() const { return m_markdown; }
    bool followsBottom() const { return m_follow; }
    int lastRenderMs() const { return m_lastRenderMs; }
    int renderCount() const { return m_renders; }

private:
    void onScrolled(int value);
    QString m_markdown;
    bool m_follow = true;
    bool m_programmatic = false;
    int m_lastRenderMs = 0;
    int m_renders = 0;
};
