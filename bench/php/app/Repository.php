<?php
declare(strict_types=1);

namespace Bench;

interface Repository
{
    public function all(): Collection;

    public function find(int $id): ?Model;
}
