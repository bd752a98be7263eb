// aws-local-stepfunctions needs Promise.withResolvers (Node 22); the project runs on Node 20.
import '../local/polyfills';
