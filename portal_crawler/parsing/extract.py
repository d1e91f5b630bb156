from portal_crawler.parsing.article import Article


def parse_article(url, body, headers=None, *, profile=None, section=None, rebase=None):
    return Article(url=url, section=section)
