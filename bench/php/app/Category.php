<?php
declare(strict_types=1);

namespace Bench;

final class Category extends Model
{
    public function __construct(int $id, public readonly string $name, public readonly string $slug)
    {
        parent::__construct($id);
    }

    public function toArray(): array
    {
        return ['id' => $this->id, 'name' => $this->name, 'slug' => $this->slug];
    }
}
