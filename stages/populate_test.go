package stages

import (
	"reflect"
	"testing"

	"github.com/convoy-ci/convoy/pipeline/config"
)

// TestPopulateMigratesFirst: the populate gate migrates its fresh database first — Django's
// migrate before Django's populator, the manifest's migrate before its own populator — and runs
// nothing when there is no populator.
func TestPopulateMigratesFirst(t *testing.T) {
	django := [][]string{{"python", "manage.py", "migrate", "--noinput"}, {"python", "manage.py", "populate"}}
	tests := []struct {
		name              string
		migrate, populate []string
		want              [][]string
	}{
		{"defaults", nil, nil, django},
		{"own populator, no migrate", nil, []string{"python", "seed.py"}, [][]string{{"python", "seed.py"}}},
		{"own migrate and populator", []string{"alembic", "upgrade", "head"}, []string{"python", "seed.py"},
			[][]string{{"alembic", "upgrade", "head"}, {"python", "seed.py"}}},
		{"no migrations", []string{}, nil, [][]string{{"python", "manage.py", "populate"}}},
		{"no populator", nil, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := populate.For(&config.Service{Name: "s", Migrate: tt.migrate, Populate: tt.populate}).Commands
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("commands = %q, want %q", got, tt.want)
			}
		})
	}
}
