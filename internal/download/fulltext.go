package download

import (
	"bytes"
	"io"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"

	"github.com/docstokg/contentdl/internal/resolve"
)

// PageScanLen is how much of an HTML body the page classifier reads. The markers it
// looks for (title, meta tags, challenge scripts, the first sections of an article)
// sit near the top, and a bound keeps a hostile page from costing more than this.
const PageScanLen = 256 << 10

// The thresholds of the full-text rule (docs/full-text.md states them).
const (
	// MinArticleWords is the least number of words of running text (in <p>, <li>,
	// <td>, <blockquote> and <dd> outside navigation, header, footer, aside and
	// forms) a page needs for its body to count as an article.
	MinArticleWords = 1500
	// MinArticleSections is the least number of distinct article section headings
	// (introduction, methods, results, discussion, conclusion, references, …) that
	// must go with those words.
	MinArticleSections = 2
	// maxPageText bounds the visible text kept for phrase matching.
	maxPageText = 64 << 10
)

// PageVerdict is what an HTML body is, for the purpose of keeping it.
type PageVerdict uint8

// The verdicts of ClassifyPage.
const (
	// PageNone means no HTML page was classified (the zero value).
	PageNone PageVerdict = iota
	// PageLanding is a record, abstract or splash page: not the work's full text. It is
	// mined for a PDF link and never saved.
	PageLanding
	// PageFullText is the work's full text as HTML: kept as a fallback to a PDF.
	PageFullText
	// PagePaywall asks the reader to subscribe, sign in or purchase.
	PagePaywall
	// PageChallenge is a bot check (Cloudflare, a captcha, a proof-of-work page).
	PageChallenge
)

// Reason is the manifest reason of an attempt that met a page of this verdict ("" for
// full text).
func (v PageVerdict) Reason() string {
	switch v {
	case PageLanding:
		return "landing_page"
	case PagePaywall:
		return "paywall"
	case PageChallenge:
		return "bot_challenge"
	}
	return ""
}

// String names the verdict.
func (v PageVerdict) String() string {
	switch v {
	case PageNone:
		return "none"
	case PageFullText:
		return "full_text"
	}
	return v.Reason()
}

// challengeMarkup is markup that only bot checks carry (matched on the lower-cased
// raw HTML): Cloudflare's challenge platform and Turnstile, reCAPTCHA, hCaptcha,
// DataDome, PerimeterX, Imperva, AWS WAF and proof-of-work walls such as Anubis (the
// kind of interstitial the PMC site has served to scripts since 2026).
var challengeMarkup = []string{
	"/cdn-cgi/challenge-platform/", "cf-chl-", "cf_chl_opt", "challenges.cloudflare.com", "cf-turnstile",
	"g-recaptcha", "www.google.com/recaptcha", "h-captcha", "hcaptcha.com", "captcha-delivery.com",
	"px-captcha", "_incapsula_resource", "awswaf", "/.within.website/", "anubis_challenge",
	"proof-of-work", "pow-challenge",
}

// challengeText is visible text (lower case, spaces collapsed) of bot checks.
var challengeText = []string{
	"enable javascript and cookies to continue", "checking your browser before accessing",
	"checking if the site connection is secure", "verify you are a human", "verifying you are human",
	"please complete the security check", "making sure you're not a bot", "making sure you are not a bot",
	"proof of work", "please solve the captcha", "complete the captcha", "are you a robot",
	"unusual traffic from your computer", "press & hold to confirm you are a human",
}

// challengeTitles are page titles of bot checks (lower case, prefix match).
var challengeTitles = []string{"just a moment", "attention required! | cloudflare", "access denied", "security check",
	"captcha", "are you a robot", "making sure you're not a bot", "one moment, please", "preparing to download"}

// paywallText is visible text (lower case, spaces collapsed) that asks the reader to
// pay or log in before reading. Bare "sign in" is not enough: nearly every publisher
// page has a sign-in link in its header.
var paywallText = []string{
	"subscribe or purchase", "purchase this article", "purchase article", "buy this article", "buy article",
	"rent this article", "purchase pdf", "purchase access", "buy access", "get full access", "pay per view",
	"pay-per-view", "access through your institution", "check access", "log in to access", "sign in to access",
	"login to access", "sign in to read", "log in to read", "subscribe to read", "subscribe to access",
	"subscribe to continue", "to read the full text, please", "this content is only available to subscribers",
	"you do not have access to this content", "you don't have access to this content", "institutional login",
	"get access to the full text", "access options", "log in or subscribe", "sign in or subscribe",
}

// sectionNames are headings of a scholarly article's body (lower case, prefix match
// after numbering is stripped).
var sectionNames = []string{"introduction", "background", "related work", "methods", "method", "materials and methods",
	"methodology", "materials", "experiments", "experimental", "results", "discussion", "conclusion", "conclusions",
	"references", "bibliography", "acknowledgements", "acknowledgments", "literature cited", "data availability",
	"limitations", "evaluation", "analysis"}

// pageFacts is what one pass of the tokenizer learns about a page.
type pageFacts struct {
	title       string
	fullTextURL string // citation_fulltext_html_url, resolved
	words       int    // words of running text
	sections    map[string]bool
	text        strings.Builder // visible text, lower case, spaces collapsed, bounded
}

// ClassifyPage decides what an HTML body is. It reads at most PageScanLen bytes of r.
// pageURL is the URL that served it (after redirects); labelled says the source
// itself calls the URL full text (a Crossref text-mining text/html link, a Europe PMC
// full-text endpoint). The rule, in order:
//
//  1. bot-check markup, text or title → PageChallenge;
//  2. an article body of real length (MinArticleWords words of running text and
//     MinArticleSections section headings) → PageFullText;
//  3. a labelled source, or a citation_fulltext_html_url equal to pageURL, without a
//     paywall phrase → PageFullText;
//  4. a paywall phrase → PagePaywall;
//  5. anything else → PageLanding.
func ClassifyPage(r io.Reader, pageURL string, labelled bool) PageVerdict {
	raw, _ := io.ReadAll(io.LimitReader(r, PageScanLen))
	f := scanPage(raw, pageURL)
	lowerRaw := bytes.ToLower(raw)
	text := f.text.String()
	title := collapse(strings.ToLower(f.title))
	for _, m := range challengeMarkup {
		if bytes.Contains(lowerRaw, []byte(m)) {
			return PageChallenge
		}
	}
	for _, t := range challengeTitles {
		if strings.HasPrefix(title, t) {
			return PageChallenge
		}
	}
	if containsAny(text, challengeText) {
		return PageChallenge
	}
	if f.words >= MinArticleWords && len(f.sections) >= MinArticleSections {
		return PageFullText
	}
	paywall := containsAny(text, paywallText)
	if !paywall && (labelled || (f.fullTextURL != "" && sameURL(f.fullTextURL, pageURL))) {
		return PageFullText
	}
	if paywall {
		return PagePaywall
	}
	return PageLanding
}

func containsAny(s string, subs []string) bool {
	for _, m := range subs {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// scanPage tokenizes raw once and gathers the facts ClassifyPage needs.
func scanPage(raw []byte, pageURL string) *pageFacts {
	f := &pageFacts{sections: map[string]bool{}}
	base, _ := url.Parse(pageURL)
	z := html.NewTokenizer(bytes.NewReader(raw))
	skip := 0    // depth inside script, style, noscript, template
	chrome := 0  // depth inside nav, header, footer, aside, form
	running := 0 // depth inside p, li, td, blockquote, dd
	inTitle, heading := false, -1
	var head strings.Builder
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			end := tt == html.EndTagToken
			d := 1
			if end {
				d = -1
			}
			switch tag {
			case "script", "style", "noscript", "template", "svg":
				if tt != html.SelfClosingTagToken {
					skip = max(0, skip+d)
				}
			case "nav", "header", "footer", "aside", "form":
				chrome = max(0, chrome+d)
			case "p", "li", "td", "blockquote", "dd":
				if tt != html.SelfClosingTagToken {
					running = max(0, running+d)
				}
			case "title":
				inTitle = !end && tt != html.SelfClosingTagToken
			case "h1", "h2", "h3", "h4":
				if end {
					if heading >= 0 {
						if s := sectionOf(head.String()); s != "" && chrome == 0 {
							f.sections[s] = true
						}
					}
					heading = -1
				} else {
					heading = 0
					head.Reset()
				}
			case "meta":
				if hasAttr && !end {
					a := resolve.TagAttrs(z)
					if strings.EqualFold(strings.TrimSpace(a["name"]), "citation_fulltext_html_url") {
						f.fullTextURL = resolveAgainst(base, a["content"])
					}
				}
			}
			if tag == "br" || tag == "p" || tag == "div" || tag == "li" {
				f.addText(" ")
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if inTitle {
				f.title += t
				continue
			}
			if heading >= 0 && head.Len() < 256 {
				head.WriteString(t)
			}
			f.addText(t)
			if running > 0 && chrome == 0 {
				f.words += len(strings.Fields(t))
			}
		}
	}
	return f
}

// addText appends visible text, lower-cased with runs of space collapsed, up to
// maxPageText bytes.
func (f *pageFacts) addText(t string) {
	if f.text.Len() >= maxPageText {
		return
	}
	t = collapse(strings.ToLower(strings.ReplaceAll(t, "\u00a0", " ")))
	if t == "" {
		return
	}
	if f.text.Len() > 0 {
		f.text.WriteByte(' ')
	}
	f.text.WriteString(t)
}

// sectionNumber matches a heading's numbering: "2.", "3.1 ", "IV. ", "a) ".
var sectionNumber = regexp.MustCompile(`^(?:[0-9]+(?:\.[0-9]+)*\.?|[ivxlc]+[.)]|[a-h][.)])\s*`)

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// sectionOf returns the article section a heading names ("2. Materials and Methods" →
// "materials and methods"), or "".
func sectionOf(h string) string {
	h = sectionNumber.ReplaceAllString(collapse(strings.ToLower(h)), "")
	for _, s := range sectionNames {
		if h == s || (strings.HasPrefix(h, s) && len(h) < len(s)+24) {
			return s
		}
	}
	return ""
}

func resolveAgainst(base *url.URL, href string) string {
	ref, err := url.Parse(strings.TrimSpace(href))
	if err != nil || href == "" {
		return ""
	}
	if base != nil {
		ref = base.ResolveReference(ref)
	}
	return ref.String()
}

// sameURL compares two URLs as the de-duplication of candidates does: scheme
// (http/https), default port, fragment and a trailing slash do not matter.
func sameURL(a, b string) bool {
	ka, okA := resolve.CanonicalKey(a)
	kb, okB := resolve.CanonicalKey(b)
	return okA && okB && strings.TrimRight(ka, "/") == strings.TrimRight(kb, "/")
}
