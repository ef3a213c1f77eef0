// Command impersonation-probe will print the header lines client-go's impersonating transport
// sends (written in a later commit); for now it only exists so the module builds.
package main

func main() {}
