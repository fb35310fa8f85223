// Package providers is the one table of the scholarly services contentdl knows: the
// resolver names that resolvers.order accepts, the provider names that label API hosts
// in logs and in the learning file, each API's default base URL, and the built-in
// politeness limit of its host.
//
// It is a leaf: it imports nothing from contentdl. internal/config builds its defaults,
// its resolver validation and its known-host limits from it; internal/resolve and
// internal/openalex take their names and default roots from it. A new provider is one
// row in APIs (and one in Resolvers when it resolves), plus its config section;
// config's TestProviderTable fails until both agree.
package providers

// Web is the provider of every host that belongs to no API in the table: publishers,
// repositories, landing pages. Learning keys such hosts "web@host".
const Web = "web"

// Provider and resolver names. A resolver that asks an API has the API's provider name;
// landing_page asks no API, and openalex_content is OpenAlex's paid PDF service.
const (
	OpenAlex        = "openalex"
	Unpaywall       = "unpaywall"
	Crossref        = "crossref"
	Arxiv           = "arxiv"
	EuropePMC       = "europe_pmc"
	SemanticScholar = "semantic_scholar"
	LandingPage     = "landing_page"
	OpenAlexContent = "openalex_content"
)

// Default base URLs (no trailing slash).
const (
	OpenAlexBase        = "https://api.openalex.org"
	OpenAlexContentBase = "https://content.openalex.org"
	UnpaywallBase       = "https://api.unpaywall.org"
	CrossrefBase        = "https://api.crossref.org"
	ArxivBase           = "https://export.arxiv.org"
	// EuropePMCBase serves rendered PDFs; with it as europe_pmc.base_url, full-text
	// XML comes from EuropePMCRestBase (see resolve.Options).
	EuropePMCBase       = "https://europepmc.org"
	EuropePMCRestBase   = "https://www.ebi.ac.uk/europepmc/webservices/rest"
	SemanticScholarBase = "https://api.semanticscholar.org"
)

// Limit is a built-in politeness limit of an API host, from the provider's published
// rate limits (shared/PROVIDERS.md). A zero field takes rate_limits.default's value; a
// rate_limits.hosts entry for the host replaces the whole limit.
type Limit struct {
	RPS         float64
	Burst       int
	Concurrency int
}

// IsZero reports whether the API documents no limit of its own.
func (l Limit) IsZero() bool { return l == Limit{} }

// API is one API root of a provider.
type API struct {
	// Provider labels the API's host (learning keys it "provider@host").
	Provider string
	// Key is the config key that overrides BaseURL ("unpaywall.base_url"). "" for a
	// root that has no key of its own: it is used only together with its provider's
	// default root, and is not labelled with the provider (the host stays Web).
	Key string
	// BaseURL is the default root.
	BaseURL string
	// Limit is the built-in limit of BaseURL's host; zero when none is documented.
	Limit Limit
}

// APIs returns every API root, in the order in which a host shared by two of them is
// labelled (the first wins). The caller may modify the slice.
func APIs() []API {
	return []API{
		{Provider: OpenAlex, Key: "openalex.base_url", BaseURL: OpenAlexBase, Limit: Limit{RPS: 10}},
		{Provider: OpenAlex, Key: "openalex.content_base_url", BaseURL: OpenAlexContentBase},
		{Provider: Unpaywall, Key: "unpaywall.base_url", BaseURL: UnpaywallBase, Limit: Limit{RPS: 10}},
		// Crossref's polite pool: 10 rps for single records, at most 3 concurrent.
		{Provider: Crossref, Key: "crossref.base_url", BaseURL: CrossrefBase, Limit: Limit{RPS: 10, Concurrency: 3}},
		// arXiv: one request every 3 s over a single connection.
		{Provider: Arxiv, Key: "arxiv.base_url", BaseURL: ArxivBase, Limit: Limit{RPS: 1.0 / 3, Burst: 1, Concurrency: 1}},
		{Provider: EuropePMC, Key: "europe_pmc.base_url", BaseURL: EuropePMCBase},
		{Provider: EuropePMC, BaseURL: EuropePMCRestBase},
		{Provider: SemanticScholar, Key: "semantic_scholar.base_url", BaseURL: SemanticScholarBase, Limit: Limit{RPS: 1, Burst: 1}},
	}
}

// Resolver is one resolver that resolvers.order may name.
type Resolver struct {
	Name string
	// Default says it is in the default order. The others (the paid openalex_content)
	// run only when listed.
	Default bool
}

// Resolvers returns every resolver: the default order first, then the optional ones.
func Resolvers() []Resolver {
	return []Resolver{
		{Name: OpenAlex, Default: true},
		{Name: Unpaywall, Default: true},
		{Name: Crossref, Default: true},
		{Name: Arxiv, Default: true},
		{Name: EuropePMC, Default: true},
		{Name: SemanticScholar, Default: true},
		{Name: LandingPage, Default: true},
		{Name: OpenAlexContent},
	}
}

// DefaultOrder returns the names of the resolvers in the default order.
func DefaultOrder() []string { return names(true) }

// Optional returns the names of the resolvers that run only when listed.
func Optional() []string { return names(false) }

// ResolverNames returns every resolver name: DefaultOrder, then Optional.
func ResolverNames() []string { return append(DefaultOrder(), Optional()...) }

func names(def bool) []string {
	var out []string
	for _, r := range Resolvers() {
		if r.Default == def {
			out = append(out, r.Name)
		}
	}
	return out
}
