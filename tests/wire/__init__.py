"""The SDK's impersonation header lines against client-go's and kubectl 1.37's, byte for byte."""
