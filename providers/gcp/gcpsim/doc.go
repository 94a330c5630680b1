// Package gcpsim simulates the parts of Google Cloud that a forensic
// acquisition touches: the Compute Engine REST API (/compute/v1), the OAuth
// token endpoint that service-account keys exchange their signed JWTs at,
// IAM Credentials' generateAccessToken for impersonation, a Cloud Storage
// bucket (fake-gcs-server's fakestorage), and, for VMs a client creates with
// a startup script, a metadata server and a local process that runs the
// script against the attached disk's content.
//
// It speaks the real wire protocol to the unmodified Google client libraries
// (cloud.google.com/go/compute/apiv1 REST clients with option.WithEndpoint,
// Application Default Credentials with a service-account key file) and to
// plain REST with a bearer token. Every answer is built from computepb types
// and marshalled with protojson, so that a field the real API does not have
// cannot slip through. The rules it enforces are written from Google's
// documentation, the URL of each beside its code; README.md lists them, with
// the scenario format, the faults and what is not simulated.
package gcpsim
