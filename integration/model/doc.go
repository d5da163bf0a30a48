// Package model holds the values of one integration run, whichever engine runs it: the events
// it sends as it goes (Event), the report it ends with (Report), why a service did not come up
// (ServiceError), the suite's test results as its JUnit XML gives them, and the errors both
// engines wrap. Package integration fills them on the host (the local engine), engine/dagger on
// a Dagger engine; package pipeline renders them.
//
// It needs nothing but the standard library: no database driver, no container runtime.
package model
