"""review-operator: a Kubernetes-native AI pull-request reviewer."""
