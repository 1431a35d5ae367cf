package bedrocksim

// CheckMarkers compiles markers as the server does and reports the first
// error, for tests in bedrocksim_test.
func CheckMarkers(ms []Marker) error {
	_, err := compileScript(ms)
	return err
}
