package cli

import (
	"log/slog"
	"slices"

	"github.com/docstokg/contentdl/internal/config"
	"github.com/docstokg/contentdl/internal/providers"
)

// warnAtStart logs, once per run and before any request, the settings that make a
// provider unusable or costly: Unpaywall in the chain without a mailto (it refuses
// such requests, so it would be skipped for every work) and no OpenAlex API key
// (required since 2026-02-13). Each line says how to fix it.
func warnAtStart(log *slog.Logger, cfg *config.Config) {
	if cfg.Mailto == "" && slices.Contains(cfg.Resolvers.Order, providers.Unpaywall) {
		log.Warn("UNPAYWALL IS SKIPPED FOR EVERY WORK: it needs a contact e-mail. " +
			"Enable it with --mailto you@example.org (or DOCSTOKG_MAILTO, or mailto: in the config file), " +
			"or remove unpaywall from resolvers.order to silence this")
	}
	if cfg.OpenAlex.APIKey == "" {
		log.Warn("no OpenAlex API key: OpenAlex has required one since 2026-02-13 and may refuse or throttle this run. " +
			"Get a free key at https://openalex.org/settings/api and set DOCSTOKG_OPENALEX_API_KEY (or openalex.api_key in the config file)")
	}
}
