package policy

// OperationType names the kind of work a request does; the contextual policy has one
// set of rules per operation.
type OperationType uint8

// The operations of a run, in pipeline order.
const (
	ManifestFetch OperationType = iota // OpenAlex pages and single-record lookups
	Resolve                            // resolver API calls and landing-page fetches
	Download                           // candidate file fetches
	Validate                           // conditional re-checks of saved files (--revalidate)
	Extract                            // unpacking archive candidates
	numOperations
)

var opNames = [numOperations]string{"manifest_fetch", "resolve", "download", "validate", "extract"}

// Operations lists every operation, for config and summaries.
func Operations() []OperationType {
	return []OperationType{ManifestFetch, Resolve, Download, Validate, Extract}
}

// String returns the snake_case name used in config keys, logs and the manifest.
func (o OperationType) String() string {
	if o < numOperations {
		return opNames[o]
	}
	return "unknown"
}

// ParseOperation is the inverse of String.
func ParseOperation(s string) (OperationType, bool) {
	for i, n := range opNames {
		if n == s {
			return OperationType(i), true
		}
	}
	return 0, false
}
