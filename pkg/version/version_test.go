package version

import (
	"testing"
	"time"
)

func TestBuildTime(t *testing.T) {
	defer func(old string) { BuildDate = old }(BuildDate)
	tests := []struct {
		stamp string
		want  time.Time
	}{
		{"", sourceDate},
		{"not a date", sourceDate},
		{"2020-01-01T00:00:00Z", sourceDate}, // older than the source: a wrong stamp
		{"2027-05-04T10:11:12Z", time.Date(2027, 5, 4, 10, 11, 12, 0, time.UTC)},
	}
	for _, tt := range tests {
		BuildDate = tt.stamp
		if got := BuildTime(); !got.Equal(tt.want) {
			t.Errorf("BuildDate %q: BuildTime() = %v, want %v", tt.stamp, got, tt.want)
		}
	}
}
