#include "AnswerView.h"

#include <QElapsedTimer>
#include <QScrollBar>
#include <QTextDocument>

AnswerView::AnswerView(QWidget *parent)
    : QTextBrowser(parent)
{
    setOpenExternalLinks(true);
    setFrameShape(QFrame::NoFrame);
    document()->setDocumentMargin(18);
    QFont f = font();
    f.setPointSizeF(f.pointSizeF() * 1.08);
    document()->setDefaultFont(f);
    connect(verticalScrollBar(), &QScrollBar::valueChanged, this, &AnswerView::onScrolled);
}

void AnswerView::onScrolled(int value)
{
    if (m_programmatic)
        return;
    // The user moved the view: follow again only once they are back at the bottom.
    m_follow = value >= verticalScrollBar()->maximum() - 4;
}

void AnswerView::showMarkdown(const QString &markdown)
{
    if (markdown == m_markdown && m_renders > 0)
        return;
    QElapsedTimer clock;
    clock.start();
    m_markdown = markdown;
    QScrollBar *bar = verticalScrollBar();
    const int previous = bar->value();
    const int hprevious = horizontalScrollBar()->value();
    m_programmatic = true;
    // One paint for the whole swap: no blank frame between clear and layout.
    setUpdatesEnabled(false);
    document()->setMarkdown(markdown, QTextDocument::MarkdownDialectGitHub);
    bar->setValue(m_follow ? bar->maximum() : qMin(previous, bar->maximum()));
    horizontalScrollBar()->setValue(hprevious);
    setUpdatesEnabled(true);
    m_programmatic = false;
    ++m_renders;
    m_lastRenderMs = int(clock.elapsed());
}

void AnswerView::showPlaceholder(const QString &html)
{
    m_markdown.clear();
    m_follow = true;
    m_programmatic = true;
    setHtml(html);
    m_programmatic = false;
}
